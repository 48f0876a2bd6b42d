import { describe, expect, it } from "vitest";
import { currentEventIndex, formatClock, placeEvents, seconds } from "./timeline.ts";

const R1 = "rec-1";
const R2 = "rec-2";
/** Recording 1 runs from 0 to 60 s; recording 2 starts 120 s later on the wall clock. */
const ev = (id: string, wallMs: number, recordingId: string | null) => ({
  id,
  atMs: { [R1]: wallMs, [R2]: wallMs - 120_000 },
  recordingId,
});

const events = [
  ev("requested", -5000, null),
  ev("joined", 2000, R1),
  ev("control", 2000, R1),
  ev("clipboard", 30_000, R1),
  ev("between", 90_000, null),
  ev("second", 125_000, R2),
];

describe("placeEvents", () => {
  it("places each event on the chosen recording's clock, saying where it falls", () => {
    expect(placeEvents(events, R1).map((e) => [e.id, e.at, e.place])).toEqual([
      ["requested", -5000, "before"],
      ["joined", 2000, "here"],
      ["control", 2000, "here"],
      ["clipboard", 30_000, "here"],
      ["between", 90_000, "after"],
      ["second", 125_000, "other"],
    ]);
    expect(placeEvents(events, R2).map((e) => [e.id, e.at, e.place])).toEqual([
      ["requested", -125_000, "before"],
      ["joined", -118_000, "other"],
      ["control", -118_000, "other"],
      ["clipboard", -90_000, "other"],
      ["between", -30_000, "before"],
      ["second", 5000, "here"],
    ]);
  });

  it("puts events in time order, keeping the chain's order for ties", () => {
    const shuffled = [ev("late", 9000, R1), ev("a", 1000, R1), ev("b", 1000, R1)];
    expect(placeEvents(shuffled, R1).map((e) => e.id)).toEqual(["a", "b", "late"]);
  });
});

describe("currentEventIndex", () => {
  const placed = placeEvents(events, R1);

  it("is the last event of this recording at or before the position", () => {
    expect(currentEventIndex(placed, 2000)).toBe(2);
    expect(currentEventIndex(placed, 29_999)).toBe(2);
    expect(currentEventIndex(placed, 30_000)).toBe(3);
    expect(currentEventIndex(placed, 60_000)).toBe(3);
  });

  it("is none before the first event of this recording, whatever came before it", () => {
    expect(currentEventIndex(placed, 1999)).toBe(-1);
    expect(currentEventIndex(placed, 0)).toBe(-1);
    expect(currentEventIndex([], 5)).toBe(-1);
  });
});

describe("formatClock", () => {
  it.each([
    [0, "0:00"],
    [5400, "0:05"],
    [754_000, "12:34"],
    [3_723_000, "1:02:03"],
    [-12_000, "−0:12"],
    [-400, "−0:01"],
    [-11_600, "−0:12"],
    [999, "0:00"],
  ])("writes %i ms as %s", (ms, text) => {
    expect(formatClock(ms)).toBe(text);
  });

  it("writes a gap's length in whole seconds, at least one", () => {
    expect(seconds(12_400)).toBe("12 s");
    expect(seconds(300)).toBe("1 s");
  });
});
