import { describe, expect, it } from "vitest";
import {
  canDeskTransition,
  DESK_STATES,
  DESK_TRANSITIONS,
  type DeskState,
  type DeskTransition,
  IllegalDeskTransition,
  isTerminalDeskState,
  nextDeskState,
} from "./desk-state.ts";

const X = "illegal" as const;

// Every (state, transition) pair and what it must give: a state, or "illegal". Written out in full so
// that a change to the table shows up here as a deliberate edit.
const table: Record<DeskState, Record<DeskTransition, DeskState | typeof X>> = {
  pending: {
    provision: "provisioning",
    ready: X,
    claim: X,
    warn: X,
    extend: X,
    expire: "terminated",
    terminate: "terminated",
    fail: "error",
  },
  provisioning: {
    provision: X,
    ready: "ready",
    claim: X,
    warn: X,
    extend: X,
    expire: "terminated",
    terminate: "terminated",
    fail: "error",
  },
  ready: {
    provision: X,
    ready: X,
    claim: "active",
    warn: X,
    extend: X,
    expire: "terminated",
    terminate: "terminated",
    fail: "error",
  },
  active: {
    provision: X,
    ready: X,
    claim: X,
    warn: "expiring",
    extend: X,
    expire: "terminated",
    terminate: "terminated",
    fail: "error",
  },
  expiring: {
    provision: X,
    ready: X,
    claim: X,
    warn: X,
    extend: "active",
    expire: "terminated",
    terminate: "terminated",
    fail: "error",
  },
  terminated: {
    provision: X,
    ready: X,
    claim: X,
    warn: X,
    extend: X,
    expire: X,
    terminate: X,
    fail: X,
  },
  error: { provision: X, ready: X, claim: X, warn: X, extend: X, expire: X, terminate: X, fail: X },
};

describe("desk state machine", () => {
  const cases = DESK_STATES.flatMap((from) =>
    (Object.keys(DESK_TRANSITIONS) as DeskTransition[]).map((transition) => ({
      from,
      transition,
      expected: table[from][transition],
    })),
  );

  it("covers every state and every transition", () => {
    expect(cases).toHaveLength(7 * 8);
    expect(cases.filter((c) => c.expected !== X)).toHaveLength(20);
  });

  it.each(cases)("$from --$transition--> $expected", ({ from, transition, expected }) => {
    if (expected === X) {
      expect(canDeskTransition(from, transition)).toBe(false);
      expect(() => nextDeskState(from, transition)).toThrow(IllegalDeskTransition);
    } else {
      expect(canDeskTransition(from, transition)).toBe(true);
      expect(nextDeskState(from, transition)).toBe(expected);
    }
  });

  it("has terminated and error as its only ends, which nothing leaves", () => {
    expect(DESK_STATES.filter(isTerminalDeskState)).toEqual(["terminated", "error"]);
    for (const state of DESK_STATES) {
      const leaves = Object.values(table[state]).some((to) => to !== X);
      expect({ state, leaves }).toEqual({ state, leaves: !isTerminalDeskState(state) });
    }
  });

  it("explains an illegal transition in words, naming the state and the move", () => {
    expect(() => nextDeskState("terminated", "terminate")).toThrow(
      "A desk that is terminated cannot be terminated",
    );
    const error = (() => {
      try {
        nextDeskState("pending", "claim");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toMatchObject({ name: "IllegalDeskTransition", from: "pending", transition: "claim" });
  });
});
