import { describe, expect, it } from "vitest";
import type { ClosedSegment, RecordedFrame } from "./contracts.ts";
import { Segmenter, type SegmenterOptions } from "./segmenter.ts";
import { readFragment } from "./testing/read-fragment.ts";
import { annexB } from "./testing/video-fixtures.ts";

/** x264's SPS for 1280×720 and for 1366×768 (baseline), a PPS, and slice NAL units. */
const SPS_720P = Buffer.from("6742c01fda014016ec0440000003004000000f03c60ca8", "hex");
const SPS_768P = Buffer.from("6742c020da01581879bc0440000003004000000f03c60ca8", "hex");
const PPS = Buffer.from("68ce3c80", "hex");
const IDR_SLICE = Buffer.from("6588840021ffee", "hex");
const P_SLICE = Buffer.from("419a2244", "hex");

function h264Key(timeMs: number, sps = SPS_720P): RecordedFrame {
  return { data: annexB([sps, PPS, IDR_SLICE]), keyframe: true, timeMs };
}

function h264Delta(timeMs: number): RecordedFrame {
  return { data: annexB([P_SLICE]), keyframe: false, timeMs };
}

/** A VP8 frame: its 3-byte tag (RFC 6386 §9.1), and for a keyframe the start code and size. */
function vp8Frame(timeMs: number, size?: { width: number; height: number }): RecordedFrame {
  const firstPartitionSize = 4;
  const tag = (firstPartitionSize << 5) | (1 << 4) | (size ? 0 : 1); // shown; bit 0 = not a keyframe
  const header = [tag & 0xff, (tag >> 8) & 0xff, tag >> 16];
  if (size)
    header.push(0x9d, 0x01, 0x2a, size.width & 0xff, size.width >> 8, size.height & 0xff, size.height >> 8);
  return { data: Uint8Array.from([...header, 1, 2, 3, 4]), keyframe: !!size, timeMs };
}

/**
 * Pushes `frames`, then flushes; returns every closed segment and, for each frame, the seq of the
 * segment its push closed (to check *when* segments close).
 */
function segment(frames: RecordedFrame[], options: Partial<SegmenterOptions> = {}) {
  const segmenter = new Segmenter({ codec: "h264", ...options });
  const segments: ClosedSegment[] = [];
  const closedAt: Record<number, number> = {};
  for (const frame of frames) {
    const closed = segmenter.push(frame);
    if (closed) {
      segments.push(closed);
      closedAt[frame.timeMs] = closed.seq;
    }
  }
  const last = segmenter.flush();
  if (last) segments.push(last);
  return { segments, closedAt, segmenter };
}

/** A frame every `stepMs` from `fromMs` up to (not including) `toMs`, keyframes where `isKey` says. */
function stream(
  fromMs: number,
  toMs: number,
  stepMs: number,
  isKey: (t: number) => boolean,
): RecordedFrame[] {
  const frames: RecordedFrame[] = [];
  for (let t = fromMs; t < toMs; t += stepMs) frames.push(isKey(t) ? h264Key(t) : h264Delta(t));
  return frames;
}

const summary = (s: ClosedSegment) => ({
  seq: s.seq,
  startMs: s.startMs,
  durationMs: s.durationMs,
  gapBeforeMs: s.gapBeforeMs,
  keyframe: s.keyframe,
});

describe("Segmenter", () => {
  it("drops the delta frames before the stream's first keyframe", () => {
    const { segments, segmenter } = segment([
      h264Delta(0),
      h264Delta(100),
      h264Key(200),
      ...stream(300, 1000, 100, () => false),
    ]);
    expect(segments.map(summary)).toEqual([
      { seq: 1, startMs: 200, durationMs: 800, gapBeforeMs: 200, keyframe: true },
    ]);
    expect(segmenter.droppedFrames).toBe(2);
  });

  it("closes at the first keyframe once the segment holds minMs", () => {
    // Keyframes every 1.25 s: at 1250 and 2500 the segment is too short, at 3750 it is long enough.
    const { segments, closedAt } = segment(stream(0, 9000, 125, (t) => t % 1250 === 0));
    expect(segments.map(summary)).toEqual([
      { seq: 1, startMs: 0, durationMs: 3750, gapBeforeMs: 0, keyframe: true },
      { seq: 2, startMs: 3750, durationMs: 3750, gapBeforeMs: 0, keyframe: true },
      { seq: 3, startMs: 7500, durationMs: 1500, gapBeforeMs: 0, keyframe: true },
    ]);
    expect(closedAt).toEqual({ 3750: 1, 7500: 2 });
  });

  it("takes minMs and gapMs from its options", () => {
    const frames = [...stream(0, 2000, 100, (t) => t % 1000 === 0), ...stream(2600, 3000, 100, () => false)];
    const { segments } = segment(frames, { minMs: 1000, gapMs: 500 });
    expect(segments.map((s) => [s.startMs, s.gapBeforeMs])).toEqual([
      [0, 0],
      [1000, 0],
      [2600, 600],
    ]);
  });

  it("closes at maxMs without a keyframe, and the next segment starts with a delta frame", () => {
    const { segments } = segment(
      stream(0, 10_000, 100, (t) => t === 0),
      { maxMs: 4000 },
    );
    expect(segments.map(summary)).toEqual([
      { seq: 1, startMs: 0, durationMs: 4000, gapBeforeMs: 0, keyframe: true },
      { seq: 2, startMs: 4000, durationMs: 4000, gapBeforeMs: 0, keyframe: false },
      { seq: 3, startMs: 8000, durationMs: 2000, gapBeforeMs: 0, keyframe: false },
    ]);
    expect(readFragment(segments[1]!.bytes).samples[0]!.keyframe).toBe(false);
  });

  it("keeps a silence longer than gapMs as a gap in time, ending the segment one frame interval after its last frame", () => {
    const frames = [...stream(0, 1000, 100, (t) => t === 0), ...stream(4000, 5000, 100, () => false)];
    const { segments, closedAt } = segment(frames);
    expect(segments.map(summary)).toEqual([
      { seq: 1, startMs: 0, durationMs: 1000, gapBeforeMs: 0, keyframe: true },
      { seq: 2, startMs: 4000, durationMs: 1000, gapBeforeMs: 3000, keyframe: false },
    ]);
    expect(closedAt).toEqual({ 4000: 1 });
    expect(readFragment(segments[0]!.bytes).samples.at(-1)!.duration).toBe(100);
  });

  it("does not count a silence of exactly gapMs as a gap", () => {
    const { segments } = segment([h264Key(0), h264Delta(100), h264Delta(2100), h264Delta(2200)]);
    expect(segments.map(summary)).toEqual([
      { seq: 1, startMs: 0, durationMs: 2300, gapBeforeMs: 0, keyframe: true },
    ]);
  });

  it("closes the segment at a keyframe with a new SPS, however short the segment", () => {
    const { segments } = segment([h264Key(0), h264Delta(100), h264Key(200, SPS_768P), h264Delta(300)]);
    expect(segments.map((s) => [s.startMs, s.durationMs, s.width, s.height, s.mimeType])).toEqual([
      [0, 200, 1280, 720, 'video/mp4; codecs="avc1.42c01f"'],
      [200, 200, 1366, 768, 'video/mp4; codecs="avc1.42c020"'],
    ]);
  });

  it("keeps a keyframe that repeats the same SPS in the open segment", () => {
    const { segments } = segment([h264Key(0), h264Delta(100), h264Key(200), h264Delta(300)]);
    expect(segments).toHaveLength(1);
    expect(readFragment(segments[0]!.bytes).samples.map((s) => s.keyframe)).toEqual([
      true,
      false,
      true,
      false,
    ]);
  });

  it("uses the last SPS seen for a keyframe that carries none", () => {
    const bareKey = (timeMs: number): RecordedFrame => ({
      data: annexB([IDR_SLICE]),
      keyframe: true,
      timeMs,
    });
    const frames = [bareKey(0), h264Key(100), h264Delta(1100), h264Delta(2100), bareKey(3100)];
    const { segments, segmenter } = segment(frames);
    // The first bare keyframe has no configuration to decode with: dropped.
    expect(segmenter.droppedFrames).toBe(1);
    expect(segments.map((s) => [s.startMs, s.durationMs, s.keyframe, s.width])).toEqual([
      [100, 3000, true, 1280],
      [3100, 1000, true, 1280],
    ]);
  });

  it("closes the segment at a VP8 keyframe of another size", () => {
    const hd = { width: 1280, height: 720 };
    const frames = [
      vp8Frame(0, hd),
      vp8Frame(100),
      vp8Frame(200, { width: 1920, height: 1080 }),
      vp8Frame(300),
    ];
    const { segments } = segment(frames, { codec: "vp8" });
    expect(segments.map((s) => [s.startMs, s.durationMs, s.width, s.height, s.mimeType])).toEqual([
      [0, 200, 1280, 720, 'video/mp4; codecs="vp08.00.10.08"'],
      [200, 200, 1920, 1080, 'video/mp4; codecs="vp08.00.10.08"'],
    ]);
  });

  it("gives each sample the time until the next frame, and the last one the time to the segment's end", () => {
    const times = [0, 40, 100, 180, 300, 400, 3000];
    const frames = times.map((t, i) => (i === 0 || t === 3000 ? h264Key(t) : h264Delta(t)));
    const { segments } = segment(frames, { gapMs: 5000 });
    expect(readFragment(segments[0]!.bytes).samples.map((s) => s.duration)).toEqual([
      40, 60, 80, 120, 100, 2600,
    ]);
    // Flushed with one frame: the median of the intervals between the frames of the segment before.
    expect(readFragment(segments[1]!.bytes).samples.map((s) => s.duration)).toEqual([80]);
  });

  it("gives a lone frame one frame interval at 30 fps", () => {
    const { segments } = segment([h264Key(0)]);
    expect(readFragment(segments[0]!.bytes).samples.map((s) => s.duration)).toEqual([33]);
  });

  it("writes the segment's start as its decode time and its seq as the fragment's sequence number", () => {
    const { segments } = segment(stream(500, 7000, 100, (t) => t % 1000 === 500));
    for (const s of segments) {
      const fragment = readFragment(s.bytes);
      expect(fragment).toMatchObject({ sequenceNumber: s.seq, baseDecodeTime: s.startMs });
      expect(fragment.samples.reduce((sum, sample) => sum + sample.duration, 0)).toBe(s.durationMs);
    }
  });

  it("rounds frame times to milliseconds and keeps decode times increasing", () => {
    const frames = [h264Key(0.4), h264Delta(66.6), h264Delta(66.6), h264Delta(60), h264Delta(133.3)];
    const { segments } = segment(frames);
    // 0, 67, 68, 69, 133; flushed, the last frame gets the median interval (64).
    expect(readFragment(segments[0]!.bytes).samples.map((s) => s.duration)).toEqual([67, 1, 1, 64, 64]);
  });

  it("goes on after flush(): later frames continue the stream after a gap", () => {
    const segmenter = new Segmenter({ codec: "h264" });
    segmenter.push(h264Key(0));
    segmenter.push(h264Delta(100));
    expect(summary(segmenter.flush()!)).toEqual({
      seq: 1,
      startMs: 0,
      durationMs: 200,
      gapBeforeMs: 0,
      keyframe: true,
    });
    expect(segmenter.flush()).toBeUndefined();
    segmenter.push(h264Delta(700));
    expect(summary(segmenter.flush()!)).toEqual({
      seq: 2,
      startMs: 700,
      durationMs: 100,
      gapBeforeMs: 500,
      keyframe: false,
    });
  });

  it("resumes a recording after the segments stored before", () => {
    const { segments } = segment([h264Key(20_100), h264Delta(20_200)], {
      resumeAfter: { seq: 7, endMs: 20_000 },
    });
    expect(segments.map(summary)).toEqual([
      { seq: 8, startMs: 20_100, durationMs: 200, gapBeforeMs: 100, keyframe: true },
    ]);
  });

  it("throws on bytes that are not an Annex B access unit, and carries on after", () => {
    const segmenter = new Segmenter({ codec: "h264" });
    segmenter.push(h264Key(0));
    const lengthPrefixed = Uint8Array.from([0, 0, 0, 4, ...P_SLICE]);
    expect(() => segmenter.push({ data: lengthPrefixed, keyframe: false, timeMs: 100 })).toThrow(
      /start code/,
    );
    segmenter.push(h264Delta(200));
    expect(readFragment(segmenter.flush()!.bytes).samples.map((s) => s.duration)).toEqual([200, 200]);
  });

  it("refuses options where minMs exceeds maxMs", () => {
    expect(() => new Segmenter({ codec: "vp8", minMs: 5000, maxMs: 4000 })).toThrow(RangeError);
  });
});
