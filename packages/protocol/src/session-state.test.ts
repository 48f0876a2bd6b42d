import { describe, expect, it } from "vitest";
import {
  IllegalSessionTransition,
  nextSessionState,
  SESSION_STATES,
  SESSION_TRANSITIONS,
  type SessionState,
  type SessionTransition,
} from "./session-state.ts";

// Every (state, transition) pair and what it must give: a state, or "illegal".
const table: Record<SessionState, Record<SessionTransition, SessionState | "illegal">> = {
  pending: { askConsent: "awaiting_consent", start: "active", deny: "illegal", end: "ended", fail: "failed" },
  awaiting_consent: { askConsent: "illegal", start: "active", deny: "denied", end: "ended", fail: "failed" },
  active: { askConsent: "illegal", start: "illegal", deny: "illegal", end: "ended", fail: "failed" },
  ended: { askConsent: "illegal", start: "illegal", deny: "illegal", end: "illegal", fail: "illegal" },
  denied: { askConsent: "illegal", start: "illegal", deny: "illegal", end: "illegal", fail: "illegal" },
  failed: { askConsent: "illegal", start: "illegal", deny: "illegal", end: "illegal", fail: "illegal" },
};

describe("session state machine", () => {
  const cases = SESSION_STATES.flatMap((from) =>
    (Object.keys(SESSION_TRANSITIONS) as SessionTransition[]).map((transition) => ({
      from,
      transition,
      expected: table[from][transition],
    })),
  );

  it.each(cases)("$from --$transition--> $expected", ({ from, transition, expected }) => {
    if (expected === "illegal") {
      expect(() => nextSessionState(from, transition)).toThrow(IllegalSessionTransition);
    } else {
      expect(nextSessionState(from, transition)).toBe(expected);
    }
  });

  it("explains an illegal transition in words", () => {
    expect(() => nextSessionState("ended", "start")).toThrow("A session that is ended cannot start");
  });
});
