/**
 * One encoder per display, fanned out to every viewer of it. Viewers subscribe for frames; the
 * source runs ffmpeg while anyone watches and stops it when the last viewer leaves.
 *
 * ffmpeg cannot be told "keyframe now" or "new bitrate" while it runs, so both are done by starting
 * a second encoder and switching to it at its first frame (always a keyframe): the old one keeps
 * streaming until then, so nobody sees a gap. Restarts are rate-limited; requests in between are
 * merged into one.
 */
import type { Logger } from "@rd/log";
import type { EncodedFrame, ScreenSize } from "./encoded-frame.ts";
import type { CaptureTarget } from "./ffmpeg-args.ts";
import { ScreenEncoder, type ScreenEncoderEvents } from "./screen-encoder.ts";
import type { VideoCodec } from "./video-codec.ts";

export interface VideoViewer {
  onFrame(frame: EncodedFrame): void;
  onScreen(size: ScreenSize): void;
  /** What this viewer's link can take, from its receiver's reports; undefined = no estimate yet. */
  kbps?: number;
}

export interface VideoSourceOptions {
  target: CaptureTarget;
  codec: VideoCodec;
  fps: number;
  /** Starting and maximum bitrate; receiver estimates move it between minKbps and this. */
  maxKbps: number;
  minKbps?: number;
  log: Logger;
  /** For tests: how encoders are made. */
  createEncoder?: (kbps: number, events: ScreenEncoderEvents) => { stop(): void };
}

/** A new viewer's keyframe should come fast; a PLI storm must not restart ffmpeg every frame. */
const KEYFRAME_INTERVAL_MS = 1000;
/** Bitrate changes restart the encoder, so only real changes, and not too often. */
const BITRATE_INTERVAL_MS = 4000;
const BITRATE_CHANGE_RATIO = 0.25;
/** An encoder that dies is restarted after this, doubling up to a limit. */
const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000];

export class VideoSource {
  private readonly viewers = new Set<VideoViewer>();
  private current?: { stop(): void; kbps: number };
  private next?: { stop(): void; kbps: number };
  private screen?: ScreenSize;
  private lastRestartAt = 0;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private framesSent = 0;
  private readonly options: VideoSourceOptions;

  constructor(options: VideoSourceOptions) {
    this.options = options;
  }

  get screenSize() {
    return this.screen;
  }

  /** What every encoder of this source produces; a viewer's peer negotiates this codec. */
  get codec(): VideoCodec {
    return this.options.codec;
  }

  /** Frames encoded since start: the stats a viewer sees come from its own receiver instead. */
  get frames() {
    return this.framesSent;
  }

  get targetKbps(): number {
    const { maxKbps, minKbps = 150 } = this.options;
    let kbps = maxKbps;
    for (const viewer of this.viewers) if (viewer.kbps !== undefined) kbps = Math.min(kbps, viewer.kbps);
    return Math.max(minKbps, Math.round(kbps));
  }

  /** Starts watching; the new viewer gets a keyframe as soon as the rate limit allows. */
  subscribe(viewer: VideoViewer): () => void {
    this.viewers.add(viewer);
    if (this.screen) viewer.onScreen(this.screen);
    if (!this.current) this.startEncoder("first viewer");
    else this.requestKeyframe();
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stopAll();
    };
  }

  /** A viewer lost a frame (PLI) or just joined: start a fresh encoder, whose first frame is key. */
  requestKeyframe(): void {
    this.scheduleRestart(KEYFRAME_INTERVAL_MS, "keyframe requested");
  }

  /** Call when a viewer's estimate changed; restarts only for a real change. */
  bitrateChanged(): void {
    const running = this.next?.kbps ?? this.current?.kbps;
    if (running === undefined) return;
    const wanted = this.targetKbps;
    if (Math.abs(wanted - running) / running < BITRATE_CHANGE_RATIO) return;
    this.scheduleRestart(BITRATE_INTERVAL_MS, `bitrate ${running} → ${wanted} kbps`);
  }

  stop(): void {
    this.viewers.clear();
    this.stopAll();
  }

  private scheduleRestart(minIntervalMs: number, why: string) {
    if (!this.current || this.next || this.restartTimer) return;
    const wait = this.lastRestartAt + minIntervalMs - performance.now();
    if (wait <= 0) return this.startEncoder(why);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.current && !this.next) this.startEncoder(why);
    }, wait);
  }

  private startEncoder(why: string) {
    const { log } = this.options;
    const kbps = this.targetKbps;
    this.lastRestartAt = performance.now();
    log.debug({ why, kbps }, "starting encoder");
    let started = false;
    const encoder = { kbps, stop: () => {} };
    const events: ScreenEncoderEvents = {
      onScreen: (size) => {
        if (this.screen?.width === size.width && this.screen.height === size.height) return;
        this.screen = size;
        for (const viewer of this.viewers) viewer.onScreen(size);
      },
      onFrame: (frame) => {
        if (!started) {
          // The switch-over: this encoder's first frame is a keyframe; the old one can go.
          started = true;
          this.failures = 0;
          if (this.next === encoder) {
            this.current?.stop();
            this.current = encoder;
            this.next = undefined;
          }
        }
        if (this.current !== encoder) return;
        this.framesSent++;
        for (const viewer of this.viewers) viewer.onFrame(frame);
      },
      onExit: (message) => {
        const wasCurrent = this.current === encoder;
        if (this.next === encoder) this.next = undefined;
        if (!wasCurrent) return log.warn({ message }, "a replacement encoder failed; keeping the old one");
        this.current = undefined;
        if (this.viewers.size === 0) return;
        const delay = RESTART_BACKOFF_MS[Math.min(this.failures++, RESTART_BACKOFF_MS.length - 1)]!;
        log.error({ message, retryInMs: delay }, "the screen encoder stopped");
        this.restartTimer = setTimeout(() => {
          this.restartTimer = undefined;
          if (!this.current && this.viewers.size > 0) this.startEncoder("restart after failure");
        }, delay);
      },
    };
    const create =
      this.options.createEncoder ??
      ((rate: number, e: ScreenEncoderEvents) =>
        new ScreenEncoder(
          this.options.target,
          { codec: this.codec, fps: this.options.fps, kbps: rate },
          e,
          log,
        ));
    const process = create(kbps, events);
    encoder.stop = () => process.stop();
    // Until its first frame, the new encoder waits in `next` while the current one keeps streaming.
    if (this.current) this.next = encoder;
    else this.current = encoder;
  }

  private stopAll() {
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.current?.stop();
    this.next?.stop();
    this.current = this.next = undefined;
  }
}
