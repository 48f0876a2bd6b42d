import { describe, expect, it } from "vitest";
import {
  type ActivitySecond,
  IDLE_BYTES_PER_SECOND,
  idleSkipTarget,
  idleStretches,
  inputLane,
} from "./activity.ts";

const busy = (second: number): ActivitySecond => [second, 50_000, 0, 0];
const quiet = (second: number): ActivitySecond => [second, 40, 0, 0];

describe("idleStretches", () => {
  it("finds quiet runs of at least 3 s between changes", () => {
    const activity = [busy(0), quiet(1), quiet(2), quiet(3), quiet(4), busy(5), quiet(6), quiet(7), busy(8)];
    expect(idleStretches(activity, [], 9000)).toEqual([{ startMs: 1000, endMs: 5000 }]);
  });

  it("counts a click or a key press as activity, even on a still screen", () => {
    const activity = [quiet(0), quiet(1), [2, 40, 1, 0] as const, quiet(3), quiet(4), [5, 40, 0, 3] as const];
    expect(idleStretches(activity, [], 6000)).toEqual([]);
  });

  it("lets a few bytes a second count as no change, but not more", () => {
    const small = [0, 1, 2, 3].map((s): ActivitySecond => [s, IDLE_BYTES_PER_SECOND, 0, 0]);
    expect(idleStretches(small, [], 4000)).toEqual([{ startMs: 0, endMs: 4000 }]);
    const more = [0, 1, 2, 3].map((s): ActivitySecond => [s, IDLE_BYTES_PER_SECOND + 1, 0, 0]);
    expect(idleStretches(more, [], 4000)).toEqual([]);
  });

  it("breaks a quiet run at an audit event", () => {
    const activity = Array.from({ length: 10 }, (_, s) => quiet(s));
    expect(idleStretches(activity, [4500], 10_000)).toEqual([
      { startMs: 0, endMs: 4000 },
      { startMs: 5000, endMs: 10_000 },
    ]);
    // Events outside the recording change nothing.
    expect(idleStretches(activity, [-2000, 12_000], 10_000)).toEqual([{ startMs: 0, endMs: 10_000 }]);
  });

  it("treats seconds without frames as quiet and ends at the recording's length", () => {
    expect(idleStretches([busy(0), busy(9)], [], 9500)).toEqual([{ startMs: 1000, endMs: 9000 }]);
    expect(idleStretches([busy(0)], [], 4500)).toEqual([{ startMs: 1000, endMs: 4500 }]);
  });

  it("finds nothing idle when the recording has no activity at all", () => {
    expect(idleStretches([], [], 60_000)).toEqual([]);
  });
});

describe("idleSkipTarget", () => {
  const stretches = [{ startMs: 10_000, endMs: 20_000 }];

  it("jumps to a second before the end of the stretch playback is in", () => {
    expect(idleSkipTarget(stretches, 10_000)).toBe(19_000);
    expect(idleSkipTarget(stretches, 15_000)).toBe(19_000);
  });

  it("stays when nearly through, or not in a stretch", () => {
    expect(idleSkipTarget(stretches, 18_500)).toBeNull();
    expect(idleSkipTarget(stretches, 19_000)).toBeNull();
    expect(idleSkipTarget(stretches, 9999)).toBeNull();
    expect(idleSkipTarget(stretches, 20_000)).toBeNull();
  });
});

describe("inputLane", () => {
  it("sums clicks and key presses per slice, scaled by the busiest", () => {
    const activity: ActivitySecond[] = [
      [0, 0, 1, 0],
      [1, 0, 0, 1],
      [5, 0, 2, 2],
      [9, 999, 0, 0],
    ];
    expect(inputLane(activity, 10_000, 5)).toEqual([0.5, 0, 1, 0, 0]);
  });

  it("is flat without input, and ignores seconds past the end", () => {
    expect(inputLane([[3, 100, 0, 0]], 10_000, 4)).toEqual([0, 0, 0, 0]);
    expect(inputLane([[30, 0, 5, 0]], 10_000, 2)).toEqual([0, 0]);
    expect(inputLane([], 0, 3)).toEqual([0, 0, 0]);
  });
});
