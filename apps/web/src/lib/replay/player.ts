/**
 * The replay player: plays a recording's segments in a <video> through Media Source Extensions.
 * Segments are appended in order into one SourceBuffer, a few fetched at a time ahead of playback;
 * what lies far behind (or, after a jump back, far ahead) is evicted. A seek fetches from the
 * keyframe segment at or before its target first. Gaps (no picture: MSE cannot play across a hole)
 * are jumped over. The decisions are in segments.ts and mp4.ts; this file only carries them out.
 */
import { sameInit, splitSegment } from "@rd/recording/segment-parts";
import { mimeCandidates } from "./mp4.ts";
import {
  type Gap,
  gapAt,
  notHeld,
  type PlanSegment,
  planFetch,
  seekTarget,
  segmentIndexAt,
  spoiledBy,
} from "./segments.ts";

export interface PlayerManifest {
  recordingId: string;
  /** "h264" or "vp8", from the recording; the segment's own codec string wins when it can be read. */
  codec: string | null;
  /** The extent of the recording's clock, in ms. */
  lengthMs: number;
  /** Still being recorded: more segments will come (`update`). */
  live: boolean;
  segments: PlanSegment[];
  gaps: Gap[];
}

export interface PlayerEvents {
  /** Playback jumped over a gap. */
  onGap(gap: Gap): void;
  /** Playback cannot go on at all (no MSE, a codec this browser lacks, the recording deleted). */
  onFatal(message: string): void;
  /** One segment could not be played (failed its integrity check, missing); playback goes past it. */
  onSegmentProblem(seq: number, message: string): void;
  /** Playback reached the end of the picture (the rest of the recording, if any, has none). */
  onEnd(): void;
}

/** Fetches one opened segment; rejects with a SegmentError for an HTTP refusal. */
export type FetchSegment = (recordingId: string, seq: number, signal: AbortSignal) => Promise<Uint8Array>;

export class SegmentError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = "SegmentError";
    this.status = status;
  }
}

/** Where the dashboard serves a recording's segment (routes/(app)/recordings/[id]/segments/[seq]). */
export const segmentUrl = (recordingId: string, seq: number) => `/recordings/${recordingId}/segments/${seq}`;

export const fetchSegment: FetchSegment = async (recordingId, seq, signal) => {
  const res = await fetch(segmentUrl(recordingId, seq), { signal, credentials: "same-origin" });
  if (!res.ok) {
    let message = `Segment ${seq} could not be loaded (HTTP ${res.status}).`;
    try {
      const body = (await res.json()) as { error?: { message?: string } };
      if (body.error?.message) message = body.error.message;
    } catch {
      // Not JSON (a proxy's page): the status says enough.
    }
    throw new SegmentError(message, res.status);
  }
  return new Uint8Array(await res.arrayBuffer());
};

/** Buffer this far ahead of playback: a few segments, enough for 4× without stalling. */
const AHEAD_MS = 30_000;
/** Segments fetched at once ("a few at a time"): parallel enough to hide latency, not a flood. */
const MAX_FETCH = 3;
/** Keep this much behind playback for a quick step back; evict what lies further behind. */
const BEHIND_MS = 60_000;
/** After a jump back, data further ahead than this is evicted too. */
const FAR_AHEAD_MS = 3 * AHEAD_MS;
/** A video stalls at the last frame before a hole, up to a frame short of it: jump from this near. */
const GAP_LEAD_MS = 250;
/** A hole in the buffer this short, where the manifest knows none, is jumped too (dropped frames). */
const SMALL_HOLE_MS = 1500;
/** A buffered range may end this much short of where the manifest says the next segment starts. */
const EDGE_TOLERANCE_MS = 50;
/** A segment that fails this many times (network, server errors) is passed over. */
const MAX_ATTEMPTS = 3;
/** Housekeeping (gaps, fetching ahead, retries) runs at least this often. */
const TICK_MS = 1000;

type MediaSourceClass = typeof MediaSource;

/** MediaSource, or Safari's ManagedMediaSource on iOS where it is the only one. */
function mediaSourceClass(): MediaSourceClass | null {
  const g = globalThis as unknown as {
    MediaSource?: MediaSourceClass;
    ManagedMediaSource?: MediaSourceClass;
  };
  return g.MediaSource ?? g.ManagedMediaSource ?? null;
}

class Stop extends Error {}

export class ReplayPlayer {
  readonly #video: HTMLVideoElement;
  #manifest: PlayerManifest;
  readonly #events: PlayerEvents;
  readonly #fetch: FetchSegment;
  readonly #MediaSource: MediaSourceClass | null;
  readonly #mediaSource: MediaSource | null = null;
  readonly #url: string | null = null;
  #sourceBuffer: SourceBuffer | null = null;
  #lastInit: Uint8Array | null = null;
  readonly #buffered = new Set<number>();
  #lastAppended: number | null = null;
  readonly #skip = new Set<number>();
  readonly #attempts = new Map<number, number>();
  readonly #inFlight = new Set<number>();
  #abort = new AbortController();
  #pumping = false;
  #again = false;
  #stopped = false;
  readonly #timer: ReturnType<typeof setInterval> | undefined;

  constructor(video: HTMLVideoElement, manifest: PlayerManifest, events: PlayerEvents, fetch = fetchSegment) {
    this.#video = video;
    this.#manifest = manifest;
    this.#events = events;
    this.#fetch = fetch;
    this.#MediaSource = mediaSourceClass();
    if (!this.#MediaSource) {
      this.#stopped = true;
      events.onFatal("This browser cannot play recordings: it has no Media Source Extensions.");
      return;
    }
    this.#mediaSource = new this.#MediaSource();
    this.#url = URL.createObjectURL(this.#mediaSource);
    // ManagedMediaSource plays only when the video cannot be handed to AirPlay.
    video.disableRemotePlayback = true;
    video.src = this.#url;
    this.#mediaSource.addEventListener("sourceopen", this.#kick, { once: true });
    video.addEventListener("timeupdate", this.#onTime);
    video.addEventListener("waiting", this.#onTime);
    video.addEventListener("seeking", this.#kick);
    video.addEventListener("ended", this.#onEnded);
    this.#timer = setInterval(() => {
      this.#onTime();
      this.#kick();
    }, TICK_MS);
  }

  /** A newer manifest of the same recording (a live one grew, or ended). */
  update(manifest: PlayerManifest): void {
    this.#manifest = manifest;
    this.#syncDuration();
    this.#kick();
  }

  /** Moves playback to `ms` on the recording's clock (past a gap it falls in). Returns where it landed. */
  seek(ms: number): number {
    const target = seekTarget(this.#manifest.gaps, ms, this.#manifest.lengthMs);
    const at = segmentIndexAt(this.#manifest.segments, target);
    const seq = at >= 0 ? this.#manifest.segments[at]!.seq : null;
    // Fetches for elsewhere give way, unless what they bring is what the seek needs.
    if (!this.#isBuffered(target) && (seq === null || !this.#inFlight.has(seq))) {
      this.#abort.abort();
      this.#abort = new AbortController();
    }
    this.#video.currentTime = target / 1000;
    this.#kick();
    return target;
  }

  /** Stops everything and lets go of the video. */
  destroy(): void {
    this.#stopped = true;
    this.#abort.abort();
    clearInterval(this.#timer);
    const video = this.#video;
    video.removeEventListener("timeupdate", this.#onTime);
    video.removeEventListener("waiting", this.#onTime);
    video.removeEventListener("seeking", this.#kick);
    video.removeEventListener("ended", this.#onEnded);
    if (this.#url) {
      video.removeAttribute("src");
      video.load();
      URL.revokeObjectURL(this.#url);
    }
  }

  #position = () => this.#video.currentTime * 1000;

  /** The end (ms) of the buffered range `ms` is in; null when it is in none. */
  #bufferedEnd(ms: number): number | null {
    const ranges = this.#video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      if (ms >= ranges.start(i) * 1000 && ms < ranges.end(i) * 1000) return ranges.end(i) * 1000;
    }
    return null;
  }

  #isBuffered(ms: number): boolean {
    const ranges = this.#video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      if (ms >= ranges.start(i) * 1000 && ms < ranges.end(i) * 1000) return true;
    }
    return false;
  }

  #onEnded = () => this.#events.onEnd();

  /** Jumps over the gap (or small hole) playback has reached. */
  #onTime = () => {
    if (this.#stopped) return;
    const video = this.#video;
    const t = this.#position();
    const { gaps, segments, live } = this.#manifest;
    const gap = gapAt(gaps, t, GAP_LEAD_MS);
    if (gap) {
      const more = segmentIndexAt(segments, gap.endMs) >= 0;
      if (!more) {
        // The recording's picture ended before the recording did (incomplete): nothing to jump to.
        if (!live && !video.paused) {
          video.pause();
          this.#events.onEnd();
        }
        return;
      }
      // Paused just short of a gap, stay; inside one (or playing into one), go past it.
      if (t >= gap.startMs || !video.paused) {
        this.seek(gap.endMs);
        this.#events.onGap(gap);
      }
      return;
    }
    if (video.paused) return;
    // At the edge of what is buffered, where the manifest knows no gap: a segment passed over (go
    // to where picture resumes), or frames a decoder dropped, rounding (go on if it resumes soon).
    const edge = this.#bufferedEnd(t);
    if (edge !== null && edge - t > GAP_LEAD_MS) return;
    const from = edge ?? t;
    // The segment just past the edge (the edge may fall a rounding short of its start).
    const next = segmentIndexAt(segments, from + EDGE_TOLERANCE_MS);
    if (next < 0) return;
    const passedOver = this.#skip.has(segments[next]!.seq);
    if (!passedOver && !this.#buffered.has(segments[next]!.seq)) return; // still loading
    const ranges = video.buffered;
    for (let i = 0; i < ranges.length; i++) {
      const start = ranges.start(i) * 1000;
      if (start > from && (passedOver || start - from <= SMALL_HOLE_MS)) {
        video.currentTime = start / 1000;
        return;
      }
    }
  };

  #kick = () => {
    void this.#pump();
  };

  async #pump(): Promise<void> {
    if (this.#pumping) {
      this.#again = true;
      return;
    }
    if (this.#stopped || this.#mediaSource?.readyState === "closed") return;
    this.#pumping = true;
    try {
      do {
        this.#again = false;
        await this.#fill();
      } while (this.#again && !this.#stopped);
    } catch (error) {
      if (error instanceof Stop) return;
      this.#stopped = true;
      this.#events.onFatal(error instanceof Error ? error.message : String(error));
    } finally {
      this.#pumping = false;
    }
  }

  /** Fetches and appends until what is near the position is buffered (or a fetch must wait). */
  async #fill(): Promise<void> {
    for (;;) {
      if (this.#stopped) throw new Stop();
      const position = this.#position();
      await this.#evict(position);
      const plan = planFetch(this.#manifest.segments, {
        positionMs: position,
        aheadMs: AHEAD_MS,
        maxCount: MAX_FETCH,
        buffered: this.#buffered,
        lastAppended: this.#lastAppended,
        skip: this.#skip,
      });
      if (plan.length === 0) return this.#maybeEnd();
      const signal = this.#abort.signal;
      const { recordingId } = this.#manifest;
      for (const seq of plan) this.#inFlight.add(seq);
      const loads = plan.map((seq) => this.#fetch(recordingId, seq, signal));
      // Every load is awaited below or dropped on a seek: none may reject unheard.
      for (const load of loads) load.catch(() => {});
      try {
        for (const [i, seq] of plan.entries()) {
          let bytes: Uint8Array;
          try {
            bytes = await loads[i]!;
          } catch (error) {
            if (signal.aborted) break;
            if (!this.#failed(seq, error)) return; // try again on the next tick
            break; // passed over: plan again (the run after it starts at a keyframe)
          }
          if (signal.aborted) break;
          await this.#append(seq, bytes);
        }
      } finally {
        for (const seq of plan) this.#inFlight.delete(seq);
      }
    }
  }

  /** Handles a segment that could not be fetched; true when it is to be passed over for good. */
  #failed(seq: number, error: unknown): boolean {
    const status = error instanceof SegmentError ? error.status : 0;
    const message = error instanceof Error ? error.message : String(error);
    if (status === 410 || status === 401) {
      this.#stopped = true;
      this.#events.onFatal(message);
      throw new Stop();
    }
    const attempts = (this.#attempts.get(seq) ?? 0) + 1;
    this.#attempts.set(seq, attempts);
    // Refused for what it is (failed its integrity check, missing): asking again changes nothing.
    if (status === 409 || status === 404 || attempts >= MAX_ATTEMPTS) {
      this.#skip.add(seq);
      this.#lastAppended = null;
      this.#events.onSegmentProblem(seq, message);
      return true;
    }
    return false;
  }

  async #append(seq: number, bytes: Uint8Array): Promise<void> {
    const { init, media } = splitSegment(bytes);
    const sourceBuffer = this.#sourceBuffer ?? this.#createSourceBuffer(bytes);
    // Every segment carries its init part. Appending it again would make the browser wait for the
    // next keyframe (MSE §3.5.7 sets "need random access point"), so an unchanged one is left out.
    const repeat = this.#lastInit !== null && sameInit(init, this.#lastInit);
    const data = repeat ? media : bytes;
    try {
      await this.#run(() => sourceBuffer.appendBuffer(data as Uint8Array<ArrayBuffer>));
    } catch (error) {
      if ((error as Error).name !== "QuotaExceededError") throw error;
      // Full: keep only a few seconds behind playback and try once more.
      await this.#evict(this.#position(), 5000);
      await this.#run(() => sourceBuffer.appendBuffer(data as Uint8Array<ArrayBuffer>));
    }
    this.#lastInit = init;
    // Appended over what was there (a jump back): what followed it up to a keyframe is gone.
    for (const spoiled of spoiledBy(this.#manifest.segments, this.#buffered, seq))
      this.#buffered.delete(spoiled);
    this.#buffered.add(seq);
    this.#lastAppended = seq;
    this.#syncDuration();
  }

  #createSourceBuffer(first: Uint8Array): SourceBuffer {
    const mediaSource = this.#mediaSource!;
    const candidates = mimeCandidates(this.#manifest.codec, first);
    const mime = candidates.find((type) => this.#MediaSource!.isTypeSupported(type));
    if (!mime) {
      const codec = this.#manifest.codec === "vp8" ? "VP8" : "H.264";
      throw new Error(
        `This browser cannot play this recording's ${codec} video (${candidates[0]}). ` +
          (codec === "VP8"
            ? "Firefox can; Chromium-based browsers cannot play VP8 in MP4."
            : "Try another browser."),
      );
    }
    this.#sourceBuffer = mediaSource.addSourceBuffer(mime);
    // Timestamps are the recording's clock: gaps between segments stay gaps.
    this.#sourceBuffer.mode = "segments";
    return this.#sourceBuffer;
  }

  /** Runs one SourceBuffer operation and waits for it to finish. */
  #run(operation: () => void): Promise<void> {
    const sourceBuffer = this.#sourceBuffer!;
    return new Promise((resolve, reject) => {
      const done = () => {
        cleanup();
        resolve();
      };
      const fail = () => {
        cleanup();
        reject(new Error("The browser could not decode this recording's video."));
      };
      const cleanup = () => {
        sourceBuffer.removeEventListener("updateend", done);
        sourceBuffer.removeEventListener("error", fail);
      };
      sourceBuffer.addEventListener("updateend", done);
      sourceBuffer.addEventListener("error", fail);
      try {
        operation();
      } catch (error) {
        cleanup();
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  }

  /** Removes what lies more than `behindMs` behind the position, and (after a jump back) far ahead. */
  async #evict(position: number, behindMs = BEHIND_MS): Promise<void> {
    const sourceBuffer = this.#sourceBuffer;
    if (!sourceBuffer || sourceBuffer.updating || sourceBuffer.buffered.length === 0) return;
    const cut = position - behindMs;
    const far = position + FAR_AHEAD_MS;
    let removed = false;
    if (cut > 0 && sourceBuffer.buffered.start(0) * 1000 < cut) {
      await this.#run(() => sourceBuffer.remove(0, cut / 1000));
      removed = true;
    }
    const ranges = sourceBuffer.buffered;
    if (ranges.length > 0 && ranges.end(ranges.length - 1) * 1000 > far) {
      await this.#run(() => sourceBuffer.remove(far / 1000, Infinity));
      removed = true;
    }
    if (removed) this.#reconcile();
  }

  /** Forgets the segments the buffer no longer holds whole; a run after the hole starts at a keyframe. */
  #reconcile(): void {
    const held = this.#sourceBuffer!.buffered;
    const ranges: [number, number][] = [];
    for (let i = 0; i < held.length; i++) ranges.push([held.start(i) * 1000, held.end(i) * 1000]);
    for (const seq of notHeld(this.#manifest.segments, this.#buffered, ranges)) {
      this.#buffered.delete(seq);
      if (seq === this.#lastAppended) this.#lastAppended = null;
    }
  }

  /** Keeps the media's duration at the recording's length, so a seek ahead of the buffer is not cut short. */
  #syncDuration(): void {
    const mediaSource = this.#mediaSource;
    const sourceBuffer = this.#sourceBuffer;
    if (!mediaSource || !sourceBuffer || sourceBuffer.updating || mediaSource.readyState !== "open") return;
    const ranges = sourceBuffer.buffered;
    const bufferedEnd = ranges.length > 0 ? ranges.end(ranges.length - 1) : 0;
    const want = Math.max(this.#manifest.lengthMs / 1000, bufferedEnd);
    if (Number.isFinite(mediaSource.duration) && Math.abs(mediaSource.duration - want) < 0.001) return;
    try {
      mediaSource.duration = want;
    } catch {
      // Raced an append; the next one sets it.
    }
  }

  /** Once the last segment of a finished recording is in, the stream ends (so `ended` fires). */
  #maybeEnd(): void {
    const mediaSource = this.#mediaSource;
    const { segments, live } = this.#manifest;
    const last = segments.at(-1);
    if (live || !last || !mediaSource || mediaSource.readyState !== "open") return;
    if (this.#sourceBuffer?.updating) return;
    if (!this.#buffered.has(last.seq) && !this.#skip.has(last.seq)) return;
    try {
      mediaSource.endOfStream();
    } catch {
      // Already ended, or an operation started meanwhile: the next round tries again.
    }
  }
}
