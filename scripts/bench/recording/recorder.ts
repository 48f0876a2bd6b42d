/**
 * The recorder's media path for one session, as SessionRecorder runs it (session-recorder.ts),
 * without its database and signaling: RecorderPeer (ICE, DTLS, SRTP, depacketizing and frame
 * assembly) → Segmenter (fMP4) → SHA-256, sealSegment (AES-256-GCM) → LocalStore.put (write,
 * fsync, rename), one segment after another, plus the activity log and the stall flush. What it
 * leaves out: joining the session (a participant row), the lease renewals, and the per-segment
 * `addSegment` (a segment row and its audit event in one transaction).
 *
 * `verify()` reads what was stored back (get → openSegment → the fragment's samples), after the
 * measured window, so the frames counted as recorded are the ones a replay would find.
 */
import { createHash, randomUUID } from "node:crypto";
import type { Logger } from "@rd/log";
import {
  type ClosedSegment,
  type LocalStore,
  openSegment,
  type RecordedCodec,
  sealSegment,
  SEGMENT_MAX_MS,
  segmentKey,
  Segmenter,
} from "@rd/recording";
import { readFragment } from "../../../packages/recording/src/testing/read-fragment.ts";
import { ActivityLog } from "../../../packages/recording/src/recorder/activity.ts";
import {
  type IceCandidateJson,
  RecorderPeer,
} from "../../../packages/recording/src/recorder/recorder-peer.ts";

/** session-recorder.ts's STALL_FLUSH_MS, and how often it looks. */
const STALL_FLUSH_MS = 2000;
const STALL_CHECK_MS = 500;
const TENANT = "bench";

export interface StoredRecording {
  segments: number;
  /** Frames (MP4 samples) in the stored segments, read back and decrypted. */
  frames: number;
  /** The sealed objects' bytes, as the store holds them. */
  bytes: number;
  /** The segments' durations added up: the recording's length, ms. */
  durationMs: number;
}

export class BenchRecording {
  readonly id = randomUUID();
  private readonly key: Uint8Array;
  private readonly store: LocalStore;
  private readonly log: Logger;
  private readonly peer: RecorderPeer;
  private readonly startedAt = Date.now();
  private readonly activity = new ActivityLog();
  private segmenter?: Segmenter;
  private codec?: RecordedCodec;
  private writes: Promise<void> = Promise.resolve();
  private nextSeq = 1;
  private lastFrameMs = -Infinity;
  private readonly stallTimer: ReturnType<typeof setInterval>;
  /** Frames the assembler released (whole frames, in order, from a keyframe on). */
  framesAssembled = 0;
  /** Frames the segmenter could not read. */
  framesUnreadable = 0;
  /** Why the media path closed, or the store refused a segment. */
  failure?: string;

  constructor(options: {
    key: Uint8Array;
    store: LocalStore;
    log: Logger;
    onCandidate(candidate: IceCandidateJson | null): void;
  }) {
    this.key = options.key;
    this.store = options.store;
    this.log = options.log;
    this.peer = new RecorderPeer({
      iceServers: [],
      log: options.log,
      clock: this.now,
      events: {
        onCandidate: options.onCandidate,
        onFrame: (frame, codec) => this.onFrame(frame, codec),
        onControl: (control) => this.activity.onControl(control, this.now()),
        onGone: (reason) => (this.failure ??= reason),
      },
    });
    this.stallTimer = setInterval(() => this.checkStall(), STALL_CHECK_MS);
  }

  private now = () => Date.now() - this.startedAt;

  acceptOffer(sdp: string): Promise<string> {
    return this.peer.acceptOffer(sdp);
  }

  addCandidate(candidate: IceCandidateJson | null): Promise<void> {
    return this.peer.addCandidate(candidate);
  }

  /** session-recorder.ts onFrame. */
  private onFrame(frame: { data: Buffer; keyframe: boolean; timeMs: number }, codec: RecordedCodec) {
    this.framesAssembled++;
    if (!this.segmenter || this.codec !== codec) {
      this.flushSegment();
      this.codec = codec;
      this.segmenter = new Segmenter({ codec, maxMs: SEGMENT_MAX_MS });
    }
    this.lastFrameMs = frame.timeMs;
    this.activity.onFrame(frame.timeMs, frame.data.length);
    try {
      const closed = this.segmenter.push({
        data: frame.data,
        keyframe: frame.keyframe,
        timeMs: frame.timeMs,
      });
      if (closed) this.write(closed);
    } catch {
      this.framesUnreadable++;
    }
  }

  private flushSegment() {
    const closed = this.segmenter?.flush();
    if (closed) this.write(closed);
  }

  private checkStall() {
    if (this.segmenter && this.now() - this.lastFrameMs > STALL_FLUSH_MS) this.flushSegment();
  }

  private write(segment: ClosedSegment) {
    const seq = this.nextSeq++;
    this.writes = this.writes.then(() => this.storeSegment(seq, segment));
  }

  /** session-recorder.ts store(), up to the segment row: its hash and activity are made, not written. */
  private async storeSegment(seq: number, segment: ClosedSegment) {
    if (this.failure?.startsWith("store")) return;
    createHash("sha256").update(segment.bytes).digest("hex");
    try {
      await this.store.put(
        segmentKey(TENANT, this.id, seq),
        await sealSegment(this.key, this.id, seq, segment.bytes),
      );
    } catch (error) {
      this.failure = `store failed: ${(error as Error).message}`;
      this.log.error({ err: error, seq }, "the store refused a segment");
      return;
    }
    this.activity.take(segment.startMs, segment.startMs + segment.durationMs);
  }

  /** The stream has ended: the open segment is written, and the peer closed. */
  async finish(): Promise<void> {
    clearInterval(this.stallTimer);
    this.flushSegment();
    await this.writes;
    await this.peer.close();
  }

  /** Reads every stored segment back and opens it. */
  async verify(): Promise<StoredRecording> {
    const stored: StoredRecording = { segments: 0, frames: 0, bytes: 0, durationMs: 0 };
    for (let seq = 1; seq < this.nextSeq; seq++) {
      const sealed = await this.store.get(segmentKey(TENANT, this.id, seq));
      const { samples } = readFragment(await openSegment(this.key, this.id, seq, sealed));
      stored.segments++;
      stored.frames += samples.length;
      stored.bytes += sealed.length;
      stored.durationMs += samples.reduce((sum, sample) => sum + sample.duration, 0);
    }
    return stored;
  }
}
