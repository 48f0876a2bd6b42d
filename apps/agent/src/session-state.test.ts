import { describe, expect, it } from "vitest";
import {
  AGENT_SESSION_STATES,
  AGENT_SESSION_TRANSITIONS,
  type AgentSessionState,
  type AgentSessionTransition,
  IllegalAgentSessionTransition,
  nextAgentSessionState,
} from "./session-state.ts";

// Every (state, transition) pair and what it must give: a state, or "illegal".
const table: Record<AgentSessionState, Record<AgentSessionTransition, AgentSessionState | "illegal">> = {
  requested: { ask: "asking", accept: "accepted", activate: "illegal", close: "closed" },
  asking: { ask: "illegal", accept: "accepted", activate: "illegal", close: "closed" },
  accepted: { ask: "illegal", accept: "illegal", activate: "active", close: "closed" },
  active: { ask: "illegal", accept: "illegal", activate: "illegal", close: "closed" },
  closed: { ask: "illegal", accept: "illegal", activate: "illegal", close: "illegal" },
};

describe("agent session state machine", () => {
  const cases = AGENT_SESSION_STATES.flatMap((from) =>
    (Object.keys(AGENT_SESSION_TRANSITIONS) as AgentSessionTransition[]).map((transition) => ({
      from,
      transition,
      expected: table[from][transition],
    })),
  );
  it.each(cases)("$from --$transition--> $expected", ({ from, transition, expected }) => {
    if (expected === "illegal") {
      expect(() => nextAgentSessionState(from, transition)).toThrow(IllegalAgentSessionTransition);
    } else expect(nextAgentSessionState(from, transition)).toBe(expected);
  });
});
