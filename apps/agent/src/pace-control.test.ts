import { describe, expect, it } from "vitest";
import { PaceControl } from "./pace-control.ts";

const quiet = (estimateKbps: number, countedKbps?: number) => ({
  estimateKbps,
  countedKbps,
  collapsed: false,
});
const collapse = (kbps: number) => ({ estimateKbps: kbps, countedKbps: kbps, collapsed: true });

/** Paced after two keyframes lost in a row, at `estimateKbps`. */
function pacedAfterLostKeyframes(estimateKbps: number): PaceControl {
  const pace = new PaceControl();
  pace.keyframeSent(0, 1000);
  pace.pictureLost(100, estimateKbps, 4000);
  pace.keyframeSent(200, 1000);
  pace.pictureLost(300, estimateKbps, 4000);
  return pace;
}

describe("PaceControl", () => {
  it("paces at the estimate after two lost keyframes in a row, then halves with each one lost", () => {
    const pace = new PaceControl();
    pace.keyframeSent(0, 1000);
    // One lost keyframe: a browser does that at the start of a good stream.
    expect(pace.pictureLost(100, 2000, 4000)).toBeUndefined();
    pace.keyframeSent(1000, 1000);
    expect(pace.pictureLost(1200, 2000, 4000)).toEqual({ kbps: 2000, why: "keyframes lost" });
    // A report for a keyframe sent before the pace changed says nothing about the new pace.
    expect(pace.pictureLost(1300, 2000, 4000)).toBeUndefined();
    pace.keyframeSent(2000, 1000);
    expect(pace.pictureLost(2100, 2000, 4000)).toEqual({ kbps: 1000, why: "keyframes lost" });
  });

  it("does not pace for pictures lost long after any keyframe", () => {
    const pace = new PaceControl();
    pace.keyframeSent(0, 1000);
    expect(pace.pictureLost(5000, 2000, 4000)).toBeUndefined();
    expect(pace.pictureLost(10_000, 2000, 4000)).toBeUndefined();
    expect(pace.kbps).toBeUndefined();
  });

  it("slows a paced stream to a link that collapsed, at once, and not below the floor", () => {
    const pace = pacedAfterLostKeyframes(2000);
    expect(pace.kbps).toBe(2000);
    expect(pace.linkRead(1000, collapse(480))).toEqual({
      kbps: 480,
      why: "link narrowed",
    });
    // An estimate that merely sank below the pace leaves it.
    expect(pace.linkRead(2000, quiet(300, 300))).toBeUndefined();
    expect(pace.linkRead(3000, collapse(100))).toEqual({
      kbps: 250,
      why: "link narrowed",
    });
  });

  it("starts pacing an unpaced stream when its link collapses, not when the estimate merely sinks", () => {
    const pace = new PaceControl();
    expect(pace.linkRead(1000, quiet(300, 3000))).toBeUndefined();
    expect(pace.linkRead(2000, collapse(500))).toEqual({
      kbps: 500,
      why: "link narrowed",
    });
  });

  it("raises the pace a step a second once calm, up to the counted estimate and no further", () => {
    const pace = new PaceControl();
    pace.linkRead(0, collapse(500));
    // Calm only ten seconds after the last lost keyframe; none was lost here.
    const readings = [1, 2, 3, 4, 5].map((s) => pace.linkRead(s * 1000, quiet(5000, 800))?.kbps);
    expect(readings).toEqual([600, 720, 800, undefined, undefined]);
  });

  it("does not raise the pace within ten seconds of a lost keyframe", () => {
    const pace = pacedAfterLostKeyframes(1000);
    expect(pace.linkRead(5000, quiet(5000, 5000))).toBeUndefined();
    expect(pace.linkRead(10_400, quiet(5000, 5000))).toEqual({ kbps: 1200, why: "link calm" });
  });

  it("slows to a narrowed link whenever told, without the calm rise of the once-a-second reading", () => {
    const pace = new PaceControl();
    expect(pace.linkNarrowed(0, { countedKbps: 3000, collapsed: false })).toBeUndefined();
    expect(pace.linkNarrowed(100, { countedKbps: 550, collapsed: true })).toEqual({
      kbps: 550,
      why: "link narrowed",
    });
    expect(pace.linkNarrowed(200, { countedKbps: 600, collapsed: false })).toBeUndefined();
    expect(pace.linkNarrowed(300, { countedKbps: 420, collapsed: true })?.kbps).toBe(420);
  });

  it("does not take a lost picture reported before the keyframe can have arrived whole for that keyframe", () => {
    const pace = new PaceControl();
    pace.linkNarrowed(0, { countedKbps: 500, collapsed: true });
    // 30 KB at 500 kbit/s: out whole 480 ms after it was handed over.
    pace.keyframeSent(1000, 30_000);
    pace.pictureLost(1100, 500, 4000);
    pace.keyframeSent(2000, 30_000);
    expect(pace.pictureLost(2100, 500, 4000)).toBeUndefined();
    // Reported after it was out: lost, twice in a row now, and the pace halves.
    pace.keyframeSent(3000, 30_000);
    expect(pace.pictureLost(3600, 500, 4000)).toBeUndefined();
    pace.keyframeSent(4000, 30_000);
    expect(pace.pictureLost(4600, 500, 4000)).toEqual({ kbps: 250, why: "keyframes lost" });
  });
});
