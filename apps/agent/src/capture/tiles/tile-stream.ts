/**
 * One display's screen as tiles, for every viewer that takes them (the `screen` data channel):
 * frames from the change-driven capture are encoded once (tile-encoder.ts), deflated once, and the
 * same messages go to each viewer. A viewer that joins gets the whole picture first and the changes
 * after it.
 *
 * A viewer whose link cannot carry every change (its channel holds more than BEHIND_BYTES when the
 * next one comes) is not sent it: it keeps the picture it was last sent, and once its channel has
 * drained it is sent one update from that picture to the screen as it is then, however many
 * changes that covers. So a narrow link gets fewer, larger updates, each at most a channel's worth
 * behind, the way a VNC server answers a client's requests; sent every change, a 0.5 Mbit/s link
 * queued seconds of them (bench:media's drop).
 *
 * Tiles suit text; a screen full of motion or photographs is cheaper as video. The stream says
 * which the display wants (`mode`, with a listener): video once the tiles have cost more than
 * HEAVY_BYTES_PER_S or HEAVY_ENCODE_MS_PER_S for HEAVY_SECONDS in a row, tiles again once the
 * screen has changed at most QUIET_FRAMES_PER_S for QUIET_SECONDS. Each viewer's peer moves
 * between them (peer.ts); the stream keeps encoding while any viewer still takes tiles.
 *
 * Messages on the channel (SCREEN_MESSAGES): an update is one raw-deflate blob, cut into parts the
 * channel carries; `video` says the tiles stop and the video track carries the picture from now;
 * `alive` says a second went by with nothing to change (so the viewer's picture is not stalled).
 */
import { promisify } from "node:util";
import { deflateRaw } from "node:zlib";
import { SCREEN_MESSAGES, SCREEN_PART_BYTES } from "@rd/protocol";
import type { Logger } from "@rd/log";
import { QUIET_FRAMES_PER_S, START_GRABBING_FRAMES_PER_S } from "../capture-mode.ts";
import type { DamageCapture, RawFrame } from "../x11/damage-capture.ts";
import { rawShare, TileEncoder } from "./tile-encoder.ts";

const deflate = promisify(deflateRaw);

export type ScreenMode = "tiles" | "video";

export interface TileViewer {
  /** Sends one message on the viewer's `screen` channel. */
  send(message: Buffer): void;
  /** Bytes the channel holds, not yet sent. */
  readonly buffered: number;
}

export interface TileStreamOptions {
  capture: DamageCapture;
  log: Logger;
}

/**
 * A screen costing more than this in tiles (before deflate) is sent as video: a busy 720p terminal
 * costs ~0.15 MB/s, bench:media's 1080p film 4-7 MB/s.
 */
const HEAVY_BYTES_PER_S = 2_000_000;
/**
 * Or more than this share of a core encoding it (ms per second): more than video costs. The busy
 * terminal takes 60-220 ms a second on a loaded 2-core machine, a film several times that.
 */
const HEAVY_ENCODE_MS_PER_S = 300;
const HEAVY_SECONDS = 2;
/**
 * A busy screen starts as video when more than this share of its tiles are photograph-like, or when
 * its changes cover most of it each time (damage-capture.ts changedShare()): bench:media's 1080p
 * film (a test pattern: few raw tiles) ~1, its busy 720p terminal, scrolling a half-screen window,
 * ~0.45. The film's screens a second are no guide: 10-25 while only watched between sessions (X's
 * reports come in bursts then), the terminal's 4-8. A terminal that fills the screen reads like a
 * film and starts as video; its quiet seconds bring tiles back.
 */
const HEAVY_RAW_SHARE = 0.25;
const HEAVY_CHANGED_SHARE = 0.75;
/** Back to tiles once the screen is this quiet for this long (the capture's change rate). */
const QUIET_SECONDS = 3;
/**
 * A viewer whose channel holds more than this when a change comes is behind: at 0.5 Mbit/s a quarter
 * of a second's sending. A busy terminal's changes are 2-10 KB each; a joining viewer's whole
 * picture, ~150 KB, makes the changes right after it wait and go out as one.
 */
const BEHIND_BYTES = 16 * 1024;
/** A behind viewer is brought up to date once its channel holds no more than this. */
const DRAINED_BYTES = BEHIND_BYTES / 2;
/** How often a behind viewer's channel is checked while the screen is still. */
const DRAIN_CHECK_MS = 20;
/** A viewer that joins is sent the whole picture once its channel holds no more than this. */
const JOIN_BUFFERED_BYTES = 500_000;
/** A second without changes is said, so the viewer knows the picture is live (stall-watch). */
const ALIVE_MS = 1000;
const DEFLATE_LEVEL = 6;
/**
 * A whole picture is deflated less hard: it is what a joining viewer waits for. bench:media's busy
 * terminal (313 KB encoded): level 6 took 15 ms for 104 KB, level 4 5.9 ms for 106 KB, on an idle
 * core; an update (~4.7 KB) takes ~0.13 ms at 6, where the level makes no difference worth having.
 */
const WHOLE_DEFLATE_LEVEL = 4;

interface ViewerState {
  /** Takes the stream's changes (has, or is being sent, the picture they apply to). */
  synced: boolean;
  /**
   * Once the viewer fell behind: the picture it was last sent, to bring it up to date from with
   * one update (kept between times, so that falling behind again reuses its buffer).
   */
  own?: TileEncoder;
}

export class TileStream {
  private readonly options: TileStreamOptions;
  private readonly viewers = new Map<TileViewer, ViewerState>();
  private readonly listeners = new Set<(mode: ScreenMode) => void>();
  private encoder?: TileEncoder;
  /** The last session's encoder, forgotten: its picture's memory, for the next session's. */
  private idleEncoder?: TileEncoder;
  /**
   * The hand-out the encoder's picture is (RawFrame.handOut): a repeat of it is not encoded again,
   * and a later one is compared only where it changed since (see encode()).
   */
  private pictureHandOut?: number;
  /** Counts the pictures encoded: the cached whole picture is of one of them. */
  private version = 0;
  private wholeCache?: { version: number; blob: Promise<Buffer> };
  private unsubscribe?: Promise<() => void>;
  private unobserve?: Promise<() => void>;
  /** Messages leave in the order their updates were made, whatever their deflate takes. */
  private sending: Promise<void> = Promise.resolve();
  private current: ScreenMode = "tiles";
  private second = { startedAt: performance.now(), bytes: 0, encodeMs: 0 };
  private heavySeconds = 0;
  private quietSeconds = 0;
  private lastMessageAt = 0;
  private aliveTimer?: ReturnType<typeof setInterval>;
  private drainTimer?: ReturnType<typeof setInterval>;

  constructor(options: TileStreamOptions) {
    this.options = options;
  }

  get mode(): ScreenMode {
    return this.current;
  }

  /** Usable while the capture is: without it there is nothing to encode. */
  get usable(): boolean {
    return this.options.capture.usable;
  }

  /** Tells `listener` each time the display's mode changes. */
  onMode(listener: (mode: ScreenMode) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * A session is coming: it starts in tiles unless its screen keeps changing and is mostly
   * photograph-like or redrawn whole many times a second (a film: video from the first frame).
   * Resolves with the mode. Either way the first picture is video's (peer.ts): an encoder primed
   * ahead shows it sooner than the whole picture in tiles, which on a desktop with a wallpaper is
   * ~150 KB to deflate and inflate.
   */
  async sessionComing(): Promise<ScreenMode> {
    if (this.viewers.size > 0) return this.current;
    const capture = this.options.capture;
    const busy = capture.changeRate() >= START_GRABBING_FRAMES_PER_S;
    if (!busy) {
      this.setMode("tiles");
      return this.current;
    }
    await capture.prepare();
    const taken = capture.take();
    if (!taken) return this.current;
    const { frame } = taken;
    const share = rawShare(frame.data, frame.width, frame.height);
    frame.release();
    const changedShare = capture.changedShare();
    const mode = share > HEAVY_RAW_SHARE || changedShare > HEAVY_CHANGED_SHARE ? "video" : "tiles";
    this.options.log.debug(
      { rawShare: share, changedShare, screens: capture.changedScreens(), mode },
      "busy screen at the session's start",
    );
    this.setMode(mode);
    return mode;
  }

  /** Starts sending to `viewer`: the whole picture first, then each change. */
  subscribe(viewer: TileViewer): () => void {
    this.viewers.set(viewer, { synced: false });
    if (!this.unsubscribe) {
      this.unsubscribe = this.options.capture.subscribe({ onFrame: (frame) => this.onFrame(frame) });
      this.unsubscribe.catch((error: unknown) => {
        this.options.log.warn({ err: error }, "cannot capture the screen for tiles; sending video");
        this.setMode("video");
      });
    }
    this.aliveTimer ??= setInterval(() => this.sayAlive(), ALIVE_MS);
    this.catchUp(viewer);
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stopCapture();
    };
  }

  /** Stops everything; viewers' peers close on their own. */
  close(): void {
    this.viewers.clear();
    this.stopCapture();
    void this.unobserve?.then((stop) => stop());
    this.unobserve = undefined;
  }

  private stopCapture() {
    void this.unsubscribe?.then(
      (stop) => stop(),
      () => {},
    );
    this.unsubscribe = undefined;
    clearInterval(this.aliveTimer);
    this.aliveTimer = undefined;
    clearInterval(this.drainTimer);
    this.drainTimer = undefined;
    // The next viewer starts from a whole picture anyway; a kept reference would only be stale.
    // Its memory is kept for that picture (TileEncoder.forget()).
    this.encoder?.forget();
    this.idleEncoder = this.encoder ?? this.idleEncoder;
    this.encoder = undefined;
    this.pictureHandOut = undefined;
    this.wholeCache = undefined;
  }

  private onFrame(frame: RawFrame) {
    // The capture's repeats of a picture (sharpening for video, heartbeats) change nothing here:
    // comparing a whole screen to find that out is most of a quiet second's cost.
    if (this.encoder && frame.handOut !== undefined && frame.handOut === this.pictureHandOut) frame.release();
    else {
      // The first frame's update is the whole picture: every viewer can start from it.
      const whole = !this.encoder;
      if (whole) for (const state of this.viewers.values()) state.synced = true;
      else this.leaveBehind();
      const update = this.encode(frame);
      if (update) this.queue(update, this.syncedViewers(), whole);
    }
    this.catchUpAll();
  }

  /** Viewers whose channel is still full miss the next change (they are brought up to date later). */
  private leaveBehind() {
    for (const [viewer, state] of this.viewers) {
      if (!state.synced || viewer.buffered <= BEHIND_BYTES || !this.encoder) continue;
      // What it has once its channel has drained: the stream's picture now, before this change.
      state.own ??= new TileEncoder(this.encoder.pixelFormat);
      state.own.copyPicture(this.encoder);
      state.synced = false;
      this.drainTimer ??= setInterval(() => this.catchUpAll(), DRAIN_CHECK_MS);
    }
  }

  private catchUpAll() {
    let waiting = false;
    for (const [viewer, state] of this.viewers) {
      if (!state.synced) this.catchUp(viewer);
      waiting ||= !state.synced && state.own !== undefined;
    }
    if (!waiting) {
      clearInterval(this.drainTimer);
      this.drainTimer = undefined;
    }
  }

  /** Encodes a frame and releases it; counts what it cost for the mode. */
  private encode(frame: RawFrame): Buffer | undefined {
    const startedAt = performance.now();
    // A new encoder's first update is the whole picture: what the screen costs to start with,
    // not how fast it changes (sessions started one after another must not make it "busy").
    const whole = !this.encoder;
    try {
      this.encoder ??=
        this.idleEncoder?.pixelFormat === frame.pixelFormat
          ? this.idleEncoder
          : new TileEncoder(frame.pixelFormat);
      this.idleEncoder = undefined;
      const since = this.pictureHandOut;
      const rows =
        since === undefined || frame.handOut === undefined
          ? undefined
          : this.options.capture.rowsChanged(since, frame.handOut);
      // Unknown until the encoder has made its picture this frame's.
      this.pictureHandOut = undefined;
      const update = this.encoder.encode(frame.data, frame.width, frame.height, rows);
      this.pictureHandOut = frame.handOut;
      if (update) this.version++;
      return update;
    } finally {
      frame.release();
      if (!whole) this.count(this.encoder?.lastStats.bytes ?? 0, performance.now() - startedAt);
    }
  }

  /**
   * Brings a viewer that is not synced up to the stream's picture: one that fell behind, once its
   * channel drained, with the difference from the picture it has; a new one with the whole picture.
   */
  private catchUp(viewer: TileViewer) {
    const state = this.viewers.get(viewer);
    if (!state || state.synced || !this.encoder) return;
    if (state.own) {
      if (viewer.buffered > DRAINED_BYTES) return;
      state.synced = true;
      const update = state.own.updateTo(this.encoder);
      if (update) this.queue(update, [viewer]);
      return;
    }
    if (viewer.buffered > JOIN_BUFFERED_BYTES) return;
    const whole = this.whole();
    if (!whole) return;
    state.synced = true;
    this.queue(whole, [viewer], true);
  }

  /** The whole picture, deflated: made once per picture, for every viewer that needs it then. */
  private whole(): Promise<Buffer> | undefined {
    if (this.wholeCache?.version === this.version) return this.wholeCache.blob;
    const update = this.encoder?.full();
    if (!update) return undefined;
    const blob = deflate(update, { level: WHOLE_DEFLATE_LEVEL });
    blob.catch(() => {});
    this.wholeCache = { version: this.version, blob };
    return blob;
  }

  private syncedViewers(): TileViewer[] {
    return [...this.viewers].filter(([, state]) => state.synced).map(([viewer]) => viewer);
  }

  /** Deflates an update and sends its parts to `to`, after every update queued before it. */
  private queue(update: Buffer | Promise<Buffer>, to: TileViewer[], whole = false) {
    if (to.length === 0) return;
    const level = whole ? WHOLE_DEFLATE_LEVEL : DEFLATE_LEVEL;
    const compressed = Buffer.isBuffer(update) ? deflate(update, { level }) : update;
    this.sending = this.sending
      .then(async () => {
        const blob = await compressed;
        const messages = parts(blob, whole);
        // Every update queued to a viewer goes out, even if it fell behind since: the picture it
        // is brought up to date from is the one these make.
        for (const viewer of to) {
          if (!this.viewers.has(viewer)) continue;
          for (const message of messages) viewer.send(message);
        }
        this.lastMessageAt = performance.now();
      })
      .catch((error: unknown) => this.options.log.warn({ err: error }, "cannot send a tile update"));
  }

  private sayAlive() {
    this.catchUpAll();
    if (performance.now() - this.lastMessageAt < ALIVE_MS) return;
    const alive = Buffer.from([SCREEN_MESSAGES.alive]);
    this.sending = this.sending.then(() => {
      for (const viewer of this.syncedViewers()) viewer.send(alive);
      this.lastMessageAt = performance.now();
    });
  }

  /** Adds an update's cost to this second's; at each second's end, decides the mode. */
  private count(bytes: number, encodeMs: number) {
    const now = performance.now();
    if (now - this.second.startedAt >= 1000) {
      const heavy = this.second.bytes > HEAVY_BYTES_PER_S || this.second.encodeMs > HEAVY_ENCODE_MS_PER_S;
      this.heavySeconds = heavy ? this.heavySeconds + 1 : 0;
      if (this.heavySeconds >= HEAVY_SECONDS && this.current === "tiles") {
        this.options.log.debug({ ...this.second }, "screen too busy for tiles: video");
        this.setMode("video");
      }
      this.second = { startedAt: now, bytes: 0, encodeMs: 0 };
    }
    this.second.bytes += bytes;
    this.second.encodeMs += encodeMs;
  }

  private setMode(mode: ScreenMode) {
    if (mode === this.current) return;
    this.current = mode;
    this.heavySeconds = 0;
    this.quietSeconds = 0;
    if (mode === "video") this.watchForQuiet();
    else {
      void this.unobserve?.then((stop) => stop());
      this.unobserve = undefined;
    }
    for (const listener of this.listeners) listener(mode);
  }

  /** While on video: back to tiles once the screen has been quiet for QUIET_SECONDS. */
  private watchForQuiet() {
    this.unobserve ??= this.options.capture.observe((framesPerSecond) => {
      this.quietSeconds = framesPerSecond <= QUIET_FRAMES_PER_S ? this.quietSeconds + 1 : 0;
      if (this.quietSeconds >= QUIET_SECONDS) this.setMode("tiles");
    });
    this.unobserve.catch(() => {});
  }
}

/** A compressed update as channel messages: parts, the last one marked (and whether it is whole). */
function parts(blob: Buffer, whole: boolean): Buffer[] {
  const messages: Buffer[] = [];
  for (let at = 0; at < blob.length || at === 0; at += SCREEN_PART_BYTES) {
    const end = Math.min(blob.length, at + SCREEN_PART_BYTES);
    const last = whole ? SCREEN_MESSAGES.whole : SCREEN_MESSAGES.last;
    const kind = end === blob.length ? last : SCREEN_MESSAGES.part;
    messages.push(Buffer.concat([Buffer.from([kind]), blob.subarray(at, end)]));
    if (end === blob.length) break;
  }
  return messages;
}
