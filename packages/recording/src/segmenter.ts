/**
 * Cuts a recording's frame stream into self-contained fMP4 segments (see fmp4.ts). Synchronous,
 * no I/O: frames in, closed segments out; sealing and storing them is the caller's job.
 *
 * The rules, in the order a frame meets them:
 * - nothing is recorded before the stream's first keyframe (a decoder could not start there);
 * - a silence longer than `gapMs` closes the open segment one frame interval after its last
 *   frame, and the next segment starts with the frame after the silence (keyframe or not), its
 *   `gapBeforeMs` saying how long the hole is, so playback time keeps the gap;
 * - a keyframe with another configuration (H.264 SPS/PPS, VP8 size) closes the segment at that
 *   keyframe: each segment has one track configuration;
 * - a keyframe closes a segment that holds at least `minMs`;
 * - any frame closes a segment that holds `maxMs` or more, so a stream with rare keyframes still
 *   gets stored in bounded pieces (the next segment then starts with a delta frame);
 * - `flush()` closes the open segment at once (the stream ended, or the caller wants what it has
 *   stored before a silence runs on); frames pushed afterwards continue the same stream.
 *
 * Time: frame times are rounded to whole milliseconds (the MP4 timescale, fmp4.ts), and a frame no
 * later than the previous one is moved 1 ms after it, since MP4 decode times must increase.
 */
import type { ClosedSegment, RecordedCodec, RecordedFrame } from "./contracts.ts";
import { mimeType, writeSegment, type Sample } from "./fmp4.ts";
import { readFrame, sameTrack, type VideoTrack } from "./track.ts";

export interface SegmenterOptions {
  codec: RecordedCodec;
  /** A keyframe closes the open segment once it holds this long. */
  minMs?: number;
  /** A segment closes at this length even without a keyframe. */
  maxMs?: number;
  /** A silence longer than this between two frames is a gap in the recording. */
  gapMs?: number;
  /**
   * For a recording that goes on after segments stored earlier (a restarted recorder): the last
   * stored segment's seq and end (startMs + durationMs). By default the first segment is seq 1
   * and the recording's time starts at 0.
   */
  resumeAfter?: { seq: number; endMs: number };
}

/**
 * 3 s at least: a seek lands on a segment start, so this bounds how far back playback may have to
 * start; 12 s at most bounds what a crash loses and the size of one stored object. 2 s of silence
 * is far beyond any frame interval of a live stream (the agent's idle heartbeat is 1 fps).
 */
export const SEGMENTER_DEFAULTS = { minMs: 3000, maxMs: 12_000, gapMs: 2000 } as const;

/** The frame interval assumed before two frames were seen: 30 fps, a common capture rate. */
const FALLBACK_FRAME_MS = 33;

interface PendingFrame {
  sample: Uint8Array;
  keyframe: boolean;
  timeMs: number;
}

interface OpenSegment {
  track: VideoTrack;
  frames: PendingFrame[];
  gapBeforeMs: number;
}

export class Segmenter {
  private readonly codec: RecordedCodec;
  private readonly minMs: number;
  private readonly maxMs: number;
  private readonly gapMs: number;
  private nextSeq: number;

  /** The configuration the latest frame carrying one announced (a keyframe may omit it). */
  private track?: VideoTrack;
  private open?: OpenSegment;
  /** Until the stream's first keyframe, frames are dropped. */
  private waitingForKeyframe = true;
  private lastTimeMs?: number;
  /** Where the previous segment ended on the recording clock (0: the recording's start). */
  private lastEndMs: number;
  private typicalFrameMs = FALLBACK_FRAME_MS;
  private dropped = 0;

  constructor(options: SegmenterOptions) {
    this.codec = options.codec;
    this.minMs = options.minMs ?? SEGMENTER_DEFAULTS.minMs;
    this.maxMs = options.maxMs ?? SEGMENTER_DEFAULTS.maxMs;
    this.gapMs = options.gapMs ?? SEGMENTER_DEFAULTS.gapMs;
    this.nextSeq = (options.resumeAfter?.seq ?? 0) + 1;
    this.lastEndMs = options.resumeAfter?.endMs ?? 0;
    // Decode times must go on increasing past what is stored already.
    if (options.resumeAfter) this.lastTimeMs = options.resumeAfter.endMs - 1;
    if (!(this.minMs > 0 && this.maxMs >= this.minMs && this.gapMs > 0)) {
      throw new RangeError("Segmenter needs 0 < minMs ≤ maxMs and gapMs > 0");
    }
  }

  /** Frames dropped so far: delta frames before the first keyframe, and frames with no picture. */
  get droppedFrames(): number {
    return this.dropped;
  }

  /**
   * Adds a frame; returns the segment it closed, if any. Throws when the frame's bytes are not a
   * frame of the codec (the segmenter's state is then unchanged).
   */
  push(frame: RecordedFrame): ClosedSegment | undefined {
    if (!Number.isFinite(frame.timeMs)) throw new RangeError(`frame time ${frame.timeMs}`);
    const read = readFrame(this.codec, frame.data);
    if (read.track) this.track = read.track;
    if (read.sample.length === 0 || (this.waitingForKeyframe && !(read.keyframe && this.track))) {
      this.dropped++;
      return undefined;
    }
    this.waitingForKeyframe = false;

    const timeMs = Math.max(Math.round(frame.timeMs), (this.lastTimeMs ?? -Infinity) + 1);
    let closed: ClosedSegment | undefined;
    if (this.open) {
      const startMs = this.open.frames[0]!.timeMs;
      const sinceLast = timeMs - this.lastTimeMs!;
      if (sinceLast > this.gapMs) {
        closed = this.close(this.lastTimeMs! + this.frameInterval());
      } else if (read.keyframe && !sameTrack(this.track!, this.open.track)) {
        closed = this.close(timeMs);
      } else if ((read.keyframe && timeMs - startMs >= this.minMs) || timeMs - startMs >= this.maxMs) {
        closed = this.close(timeMs);
      }
    }
    this.open ??= {
      track: this.track!,
      frames: [],
      gapBeforeMs: Math.max(0, timeMs - this.lastEndMs),
    };
    this.open.frames.push({ sample: read.sample, keyframe: read.keyframe, timeMs });
    this.lastTimeMs = timeMs;
    return closed;
  }

  /**
   * Closes the open segment, one frame interval after its last frame. Frames pushed afterwards
   * continue the same stream, in a new segment after the gap (a delta frame included: it decodes
   * after the segments before it). A new stream — another encoder, another track — needs a new
   * Segmenter (with `resumeAfter`, to go on in the same recording).
   */
  flush(): ClosedSegment | undefined {
    return this.open ? this.close(this.lastTimeMs! + this.frameInterval()) : undefined;
  }

  private close(endMs: number): ClosedSegment {
    const { track, frames, gapBeforeMs } = this.open!;
    this.open = undefined;
    const samples: Sample[] = frames.map((f, i) => ({
      data: f.sample,
      duration: (frames[i + 1]?.timeMs ?? endMs) - f.timeMs,
      keyframe: f.keyframe,
    }));
    const startMs = frames[0]!.timeMs;
    const seq = this.nextSeq++;
    this.lastEndMs = endMs;
    this.typicalFrameMs = medianInterval(frames) ?? this.typicalFrameMs;
    return {
      seq,
      bytes: writeSegment(track, { sequenceNumber: seq, baseDecodeTime: startMs, samples }),
      startMs,
      durationMs: endMs - startMs,
      gapBeforeMs,
      keyframe: frames[0]!.keyframe,
      mimeType: mimeType(track),
      width: track.width,
      height: track.height,
    };
  }

  /**
   * How long the last frame before a silence or the end is shown. The median of the open
   * segment's intervals: screen capture drops unchanged frames (long intervals) and the network
   * delivers bursts (short ones), and the median ignores both.
   */
  private frameInterval(): number {
    return medianInterval(this.open!.frames) ?? this.typicalFrameMs;
  }
}

function medianInterval(frames: PendingFrame[]): number | undefined {
  const intervals = frames.slice(1).map((f, i) => f.timeMs - frames[i]!.timeMs);
  intervals.sort((a, b) => a - b);
  return intervals[Math.floor(intervals.length / 2)];
}
