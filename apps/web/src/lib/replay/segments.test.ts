import { describe, expect, it } from "vitest";
import {
  gapAt,
  notHeld,
  type PlanSegment,
  planFetch,
  type PlanState,
  segmentIndexAt,
  seekTarget,
  spoiledBy,
} from "./segments.ts";

/** Four-second segments from 0, a keyframe every third; a 6 s gap before seq 7. */
const segments: PlanSegment[] = [
  { seq: 1, startMs: 0, durationMs: 4000, keyframe: true },
  { seq: 2, startMs: 4000, durationMs: 4000, keyframe: false },
  { seq: 3, startMs: 8000, durationMs: 4000, keyframe: false },
  { seq: 4, startMs: 12_000, durationMs: 4000, keyframe: true },
  { seq: 5, startMs: 16_000, durationMs: 4000, keyframe: false },
  { seq: 6, startMs: 20_000, durationMs: 4000, keyframe: false },
  { seq: 7, startMs: 30_000, durationMs: 4000, keyframe: true },
  { seq: 8, startMs: 34_000, durationMs: 4000, keyframe: false },
];

const state = (over: Partial<PlanState> = {}): PlanState => ({
  positionMs: 0,
  aheadMs: 10_000,
  maxCount: 3,
  buffered: new Set(),
  lastAppended: null,
  skip: new Set(),
  ...over,
});

describe("segmentIndexAt", () => {
  it("finds the segment containing a moment", () => {
    expect(segmentIndexAt(segments, 0)).toBe(0);
    expect(segmentIndexAt(segments, 3999)).toBe(0);
    expect(segmentIndexAt(segments, 4000)).toBe(1);
    expect(segmentIndexAt(segments, 37_999)).toBe(7);
  });

  it("gives the next segment in a gap, and -1 past the end", () => {
    expect(segmentIndexAt(segments, 25_000)).toBe(6);
    expect(segmentIndexAt(segments, 38_000)).toBe(-1);
    expect(segmentIndexAt([], 0)).toBe(-1);
    expect(segmentIndexAt([{ seq: 1, startMs: 2000, durationMs: 1000, keyframe: true }], 0)).toBe(0);
  });
});

describe("planFetch", () => {
  it("fetches from the start a few segments ahead", () => {
    expect(planFetch(segments, state())).toEqual([1, 2, 3]);
    expect(planFetch(segments, state({ maxCount: 2 }))).toEqual([1, 2]);
  });

  it("goes on from the last segment appended, keyframe or not", () => {
    const buffered = new Set([1, 2]);
    expect(planFetch(segments, state({ positionMs: 5000, buffered, lastAppended: 2 }))).toEqual([3, 4]);
  });

  it("starts a seek at the nearest keyframe segment at or before the target", () => {
    // 18 s is in seq 5; its keyframe is at the start of seq 4.
    expect(
      planFetch(segments, state({ positionMs: 18_000, buffered: new Set([1, 2]), lastAppended: 2 })),
    ).toEqual([4, 5, 6]);
    // Seq 3 after seq 1 (seq 2 evicted) needs seq 1 again: decoding starts there.
    expect(planFetch(segments, state({ positionMs: 9000, buffered: new Set([1]), lastAppended: 1 }))).toEqual(
      [1, 2, 3],
    );
  });

  it("re-appends buffered segments between the keyframe and the first one missing", () => {
    const buffered = new Set([4, 5]);
    expect(planFetch(segments, state({ positionMs: 17_000, buffered, lastAppended: 2 }))).toEqual([4, 5, 6]);
  });

  it("ends a run at a segment already buffered", () => {
    const buffered = new Set([3]);
    expect(planFetch(segments, state({ positionMs: 0, buffered, maxCount: 5 }))).toEqual([1, 2]);
  });

  it("plans nothing when everything near is buffered, or past the end", () => {
    const buffered = new Set([4, 5, 6]);
    expect(
      planFetch(segments, state({ positionMs: 12_000, buffered, lastAppended: 6, aheadMs: 10_000 })),
    ).toEqual([]);
    expect(planFetch(segments, state({ positionMs: 40_000 }))).toEqual([]);
  });

  it("jumps a gap to the next segment", () => {
    const buffered = new Set([4, 5, 6]);
    expect(planFetch(segments, state({ positionMs: 23_000, buffered, lastAppended: 6 }))).toEqual([7]);
    expect(
      planFetch(segments, state({ positionMs: 23_000, buffered, lastAppended: 6, aheadMs: 15_000 })),
    ).toEqual([7, 8]);
  });

  it("passes over segments that cannot be had, starting after one in the walk back", () => {
    expect(planFetch(segments, state({ positionMs: 16_000, skip: new Set([5]) }))).toEqual([6]);
    expect(planFetch(segments, state({ positionMs: 0, skip: new Set([1]) }))).toEqual([2, 3]);
    // Walking back from seq 6 stops at the broken seq 4.
    expect(planFetch(segments, state({ positionMs: 21_000, skip: new Set([4]) }))).toEqual([5, 6, 7]);
  });
});

describe("notHeld", () => {
  it("names the segments a removal took, whole or in part", () => {
    // Removing up to 2.8 s took frames to the next keyframe (5 s), into seq 2.
    const ranges = [
      [5000, 12_000],
      [16_000, 20_000],
    ] as const;
    expect(notHeld(segments, new Set([1, 2, 3, 5]), ranges)).toEqual([1, 2]);
  });

  it("keeps segments the buffer still covers, allowing for frame rounding", () => {
    expect(notHeld(segments, new Set([1, 2]), [[20, 7990]])).toEqual([]);
    expect(notHeld(segments, new Set([1]), [])).toEqual([1]);
  });
});

describe("spoiledBy", () => {
  it("names the buffered segments after one appended again, up to the next keyframe segment", () => {
    expect(spoiledBy(segments, new Set([1, 2, 3, 4, 5]), 1)).toEqual([2, 3]);
    expect(spoiledBy(segments, new Set([2, 3]), 1)).toEqual([2, 3]);
    expect(spoiledBy(segments, new Set([3]), 1)).toEqual([]);
    expect(spoiledBy(segments, new Set([4, 5, 6]), 3)).toEqual([]);
    expect(spoiledBy(segments, new Set([8]), 8)).toEqual([]);
  });
});

describe("gaps", () => {
  const gaps = [
    { startMs: 0, endMs: 2000 },
    { startMs: 24_000, endMs: 30_000 },
  ];

  it("finds the gap playback is in or about to stall at", () => {
    expect(gapAt(gaps, 500, 250)).toEqual(gaps[0]);
    expect(gapAt(gaps, 23_800, 250)).toEqual(gaps[1]);
    expect(gapAt(gaps, 23_700, 250)).toBeNull();
    expect(gapAt(gaps, 30_000, 250)).toBeNull();
  });

  it("lands a seek past the gap it falls in, within the recording", () => {
    expect(seekTarget(gaps, 25_000, 40_000)).toBe(30_000);
    expect(seekTarget(gaps, 23_000, 40_000)).toBe(23_000);
    expect(seekTarget(gaps, -5, 40_000)).toBe(2000);
    expect(seekTarget(gaps, 99_000, 40_000)).toBe(40_000);
  });

  it("lands a seek into the gap that ends the recording on the last picture", () => {
    const trailing = [{ startMs: 35_000, endMs: 40_000 }];
    expect(seekTarget(trailing, 36_000, 40_000)).toBe(35_000);
    expect(seekTarget(trailing, 40_000, 40_000)).toBe(35_000);
    expect(seekTarget(trailing, 34_000, 40_000)).toBe(34_000);
  });
});
