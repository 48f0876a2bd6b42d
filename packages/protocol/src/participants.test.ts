import { describe, expect, it } from "vitest";
import {
  applyControl,
  type ControlAction,
  type ControlActor,
  type ControlState,
  IllegalControlChange,
  IllegalParticipantTransition,
  nextParticipantState,
  PARTICIPANT_STATES,
  PARTICIPANT_TRANSITIONS,
  type ParticipantState,
  type ParticipantTransition,
} from "./participants.ts";

describe("participant lifecycle", () => {
  const table: Record<ParticipantState, Record<ParticipantTransition, ParticipantState | "illegal">> = {
    waiting: { admit: "admitted", refuse: "left", leave: "left" },
    admitted: { admit: "illegal", refuse: "illegal", leave: "left" },
    left: { admit: "illegal", refuse: "illegal", leave: "illegal" },
  };
  const cases = PARTICIPANT_STATES.flatMap((from) =>
    (Object.keys(PARTICIPANT_TRANSITIONS) as ParticipantTransition[]).map((transition) => ({
      from,
      transition,
      expected: table[from][transition],
    })),
  );
  it.each(cases)("$from --$transition--> $expected", ({ from, transition, expected }) => {
    if (expected === "illegal") {
      expect(() => nextParticipantState(from, transition)).toThrow(IllegalParticipantTransition);
    } else expect(nextParticipantState(from, transition)).toBe(expected);
  });
});

describe("control table", () => {
  const A: ControlActor = { id: "a", capable: true, mayTake: true }; // the owner
  const B: ControlActor = { id: "b", capable: true, mayTake: false }; // an observer
  const W: ControlActor = { id: "w", capable: false, mayTake: false }; // not admitted yet
  const free: ControlState = { controller: null, requests: [] };
  const withA: ControlState = { controller: "a", requests: [] };
  const withB: ControlState = { controller: "b", requests: [] };
  const bAsked: ControlState = { controller: "a", requests: ["b"] };

  // [name, state, action, expected state or the refusal's words, expected event]
  const cases: [string, ControlState, ControlAction, ControlState | RegExp, string | null][] = [
    [
      "a request with nobody in control is granted at once",
      free,
      { type: "request", by: B },
      { controller: "b", requests: [] },
      "control_granted",
    ],
    ["a request while someone drives queues", withA, { type: "request", by: B }, bAsked, "control_requested"],
    ["asking twice is refused", bAsked, { type: "request", by: B }, /already asked/, null],
    [
      "the controller cannot ask for what it has",
      withA,
      { type: "request", by: A },
      /already have control/,
      null,
    ],
    ["a participant not admitted cannot ask", withA, { type: "request", by: W }, /admitted technician/, null],
    [
      "the controller hands over; the request is answered",
      bAsked,
      { type: "grant", by: A, to: B },
      { controller: "b", requests: [] },
      "control_granted",
    ],
    [
      "only the controller can hand over",
      withA,
      { type: "grant", by: B, to: B },
      /Only the participant who has control/,
      null,
    ],
    [
      "nobody gets control who is not admitted",
      withA,
      { type: "grant", by: A, to: W },
      /admitted technician/,
      null,
    ],
    ["handing to oneself is refused", withA, { type: "grant", by: A, to: A }, /already have control/, null],
    ["the controller gives control up", withA, { type: "release", by: A }, free, "control_released"],
    [
      "releasing what one does not have is refused",
      withA,
      { type: "release", by: B },
      /do not have control/,
      null,
    ],
    ["the owner takes control back", withB, { type: "take", by: A }, withA, "control_taken"],
    ["an observer may not take, only ask", withA, { type: "take", by: B }, /ask for it instead/, null],
    ["the controller leaving frees control", withA, { type: "drop", by: A }, free, "control_released"],
    ["an asker leaving withdraws the request", bAsked, { type: "drop", by: B }, withA, null],
  ];

  it.each(cases)("%s", (_name, state, action, expected, event) => {
    if (expected instanceof RegExp) {
      expect(() => applyControl(state, action)).toThrow(IllegalControlChange);
      expect(() => applyControl(state, action)).toThrow(expected);
    } else {
      expect(applyControl(state, action)).toEqual({ state: expected, event });
    }
  });
});
