/**
 * Screen capture driven by what changed: one per X display, shared by every encoder of it. While
 * someone watches, the X server reports each change (DAMAGE); the capture reads just the changed
 * rectangles into its copy of the screen and hands out a frame, at most `fps` times a second. A
 * static screen costs nothing but a heartbeat frame a second (see below); nobody watching costs
 * nothing at all (but the few change events of a busy screen, when asked to watch while idle).
 *
 * After a burst of change (or one large change) it hands out the same picture twice more
 * (REFRESH_AFTER_MS): the encoder spends the bits the burst did not leave it on sharpening that
 * picture, so text settles crisp. A lone small change (a clock's tick, a cursor's blink) is coded at
 * the target quality already, and is not repeated: that tripled the frames of a quiet desktop.
 *
 * The server leaves its pointer out of GetImage, so the capture draws it: the pointer's position and
 * image are read (XFIXES) while someone watches, and a move is a change like any other. They are
 * read when X says the pointer moved (XInput 2 motion) or changed its image (XFIXES), at most
 * every CURSOR_POLL_MS: polled every 50 ms instead, a still pointer was half of what a static
 * desktop with a viewer cost the agent (bench:media, 20 s: 0.023-0.028 core, 0.013-0.015 read 4
 * times a second).
 *
 * An Xvfb started with `-fbdir` (the agent's own displays, desks) keeps its screen in a file: the
 * changed rows are then copied from it (framebuffer-file.ts) instead of asked for with GetImage.
 *
 * It also measures how fast the screen changes, for whoever observes it (observe()): an encoder
 * that grabs the screen itself while it is busy (capture-mode.ts) keeps it watching, without
 * reading, to know when the screen has gone quiet.
 */
import type { Logger } from "@rd/log";
import type { RawInput } from "../ffmpeg-args.ts";
import { boundingBox, ChangedArea } from "./changed-area.ts";
import { ChangedRows, type RowSpan } from "./changed-rows.ts";
import { FramebufferFile } from "./framebuffer-file.ts";
import { sync } from "./x-connection.ts";
import type { CursorImage, RawPixelFormat, Rect, XScreenReader } from "./x-screen-reader.ts";

export interface RawFrame {
  /** Rows of `width` 4-byte pixels; unchanged until every holder released it. */
  data: Buffer;
  width: number;
  height: number;
  pixelFormat: RawPixelFormat;
  /** Which hand-out this picture is (DamageCapture.rowsChanged() compares two). */
  handOut?: number;
  /**
   * Called once for each time the frame was handed to a subscriber, when done with it: its buffer
   * is then reused for a later frame. (A subscriber that never calls it only costs allocations.)
   */
  release(): void;
}

export interface RawFrameSubscriber {
  onFrame(frame: RawFrame): void;
}

/** A frame of the pool, with how many holders it has (subscribers, and the capture's `latest`). */
interface PooledFrame extends RawFrame {
  holders: number;
}

export interface DamageCaptureOptions {
  fps: number;
  log: Logger;
  /** Opens the display's reader; called again after the connection is lost. */
  open(): Promise<XScreenReader>;
  /** The display's Xvfb framebuffer file (`-fbdir`), if it has one: read instead of GetImage. */
  framebuffer?: string;
}

/**
 * After the last change: the sharpening repeats, then a heartbeat a second. The heartbeat keeps a
 * receiver (a recorder above all) from taking a quiet screen for a lost stream and asking for a
 * keyframe at the next change.
 */
const REFRESH_AFTER_MS = [120, 400];
/** A frame this soon after the one before is part of a burst. */
const BURST_GAP_MS = 200;
/** A change over this share of the screen may have been coded coarser under the rate cap. */
const LARGE_CHANGE_SHARE = 1 / 8;
const HEARTBEAT_MS = 1000;
/** The pointer is read at most this often while it moves, and polled this often where X cannot say. */
const CURSOR_POLL_MS = 50;
/**
 * Where X says when the pointer moves, it is still read this often: a client's XWarpPointer while
 * another client grabs the pointer makes no event the capture hears (x-screen-reader.ts).
 */
const CURSOR_CHECK_MS = 1000;
/** A prepared capture nobody subscribed to (the session was declined) stops watching after this. */
const PREPARED_FOR_MS = 60_000;
/** Frame buffers kept for reuse: one being encoded, one waiting, one latest, one spare. */
const POOL_SIZE = 4;
const STATS_EVERY_MS = 5000;
/** Separate reads only pay off for a few small rectangles; otherwise one read of their bounds. */
const MAX_SEPARATE_READS = 8;
const MAX_DIRTY_RECTS = 256;

export class DamageCapture {
  private readonly options: DamageCaptureOptions;
  private readonly subscribers = new Set<RawFrameSubscriber>();
  private reader?: XScreenReader;
  private opening?: Promise<XScreenReader>;
  private framebuffer?: FramebufferFile;
  private screen?: Buffer;
  private width = 0;
  private height = 0;
  private dirty: Rect[] = [];
  private cursor?: CursorImage;
  private cursorMoved = false;
  private latest?: PooledFrame;
  private readonly pool: PooledFrame[] = [];
  private handOuts = 0;
  /** What each recent hand-out changed (rowsChanged()). */
  private readonly changes = new ChangedRows();
  /** The rows the pointer was drawn on in the last hand-out. */
  private pointerRows?: RowSpan;
  private stats = { since: performance.now(), damage: 0, frames: 0, grabs: 0, grabMs: 0, allocated: 0 };
  private lastFrameAt = 0;
  private grabbing = false;
  private frameTimer?: ReturnType<typeof setTimeout>;
  private quietTimer?: ReturnType<typeof setTimeout>;
  private quietStep = 0;
  private cursorTimer?: ReturnType<typeof setInterval>;
  /** A pointer read due (after X said it moved), and when the last one started. */
  private cursorReadTimer?: ReturnType<typeof setTimeout>;
  private cursorReadAt = -Infinity;
  private pointerWatchedOn?: XScreenReader;
  private unusedTimer?: ReturnType<typeof setTimeout>;
  private watchingReader?: XScreenReader;
  private unusable = false;
  /** Told each second how many frame slots saw a change (observe()). */
  private readonly observers = new Set<(framesPerSecond: number) => void>();
  private rateTimer?: ReturnType<typeof setInterval>;
  private lastChangedSlot = -1;
  /** When the frame slots of the last second with a change began (changeRate()). */
  private recentChanges: number[] = [];
  /** Screen area changed lately (changedScreens()). */
  private readonly area: ChangedArea;
  /** Watch while nobody does, for changeRate() (watchWhileIdle()). */
  private watchIdle = false;

  constructor(options: DamageCaptureOptions) {
    this.options = options;
    this.area = new ChangedArea(options.fps);
  }

  /**
   * False once the display could not be opened for capture (no DAMAGE, a pixel format it does not
   * read, no socket it can reach): encoders then let ffmpeg grab the screen instead.
   */
  get usable(): boolean {
    return !this.unusable;
  }

  /** The screen's size and pixel format, once connected. */
  get size(): RawInput | undefined {
    if (!this.reader) return undefined;
    const { width, height } = this.screen ? { width: this.width, height: this.height } : this.reader.x.setup;
    return { width, height, pixelFormat: this.reader.pixelFormat };
  }

  /** Connects ahead of need, so a display it cannot capture is known before the first viewer. */
  async open(): Promise<void> {
    await this.connect().catch(() => {});
  }

  /**
   * Connects, starts watching and reads the whole screen: called when a session is coming, so the
   * first viewer's first frame waits for neither. Stops again if nobody subscribes in time.
   */
  async prepare(): Promise<void> {
    const reader = await this.connect();
    await this.ready(reader);
    if (!this.inUse) {
      clearTimeout(this.unusedTimer);
      this.unusedTimer = setTimeout(() => {
        if (!this.inUse) this.idle();
      }, PREPARED_FOR_MS);
    }
  }

  /** How many new pictures were handed out so far: unchanged, the screen has not changed. */
  get handOutCount(): number {
    return this.handOuts;
  }

  /**
   * The rows that differ between hand-out `from`'s picture and hand-out `to`'s (RawFrame.handOut),
   * or undefined when that is no longer known: then any row may.
   */
  rowsChanged(from: number, to: number): RowSpan | undefined {
    return this.changes.between(from, to);
  }

  /**
   * The picture there is now, for `holder` to release, with the hand-out count it belongs to;
   * undefined before the screen was read.
   */
  take(): { frame: RawFrame; handOuts: number } | undefined {
    if (!this.latest) return undefined;
    this.latest.holders++;
    return { frame: this.latest, handOuts: this.handOuts };
  }

  /**
   * Starts handing frames to `subscriber`; resolves once there is a picture to hand out. With
   * `current` (the default) it is first handed the picture there is, if nothing newer comes.
   */
  async subscribe(subscriber: RawFrameSubscriber, options = { current: true }): Promise<() => void> {
    this.subscribers.add(subscriber);
    clearTimeout(this.unusedTimer);
    const unsubscribe = () => {
      this.subscribers.delete(subscriber);
      if (this.subscribers.size === 0) this.stopReading();
    };
    const handOuts = this.handOuts;
    try {
      const reader = await this.connect();
      if (!this.subscribers.has(subscriber)) return unsubscribe;
      if (!this.watching || !this.latest) await this.ready(reader);
      // Prepared earlier: what changed since is read now rather than at the next change.
      else if (this.dirty.length) this.scheduleFrame();
      this.followPointer(reader);
      // A quiet screen hands out nothing new: the subscriber starts from the picture there is.
      if (options.current && this.handOuts === handOuts && this.latest) this.give(this.latest, subscriber);
      return unsubscribe;
    } catch (error) {
      unsubscribe();
      throw error;
    }
  }

  /**
   * Keeps watching the screen, without reading it unless someone subscribed, and tells `onRate`
   * each second how many frames' worth of it changed (the frames a change-driven capture would hand
   * out at the frame rate, pointer moves included).
   */
  async observe(onRate: (framesPerSecond: number) => void): Promise<() => void> {
    this.observers.add(onRate);
    clearTimeout(this.unusedTimer);
    const unobserve = () => {
      if (!this.observers.delete(onRate)) return;
      if (this.observers.size === 0) {
        clearInterval(this.rateTimer);
        this.rateTimer = undefined;
      }
      if (!this.inUse) this.idle();
    };
    try {
      const reader = await this.connect();
      if (!this.observers.has(onRate)) return unobserve;
      if (!this.watching) await this.startWatching(reader);
      this.followPointer(reader);
      this.rateTimer ??= setInterval(() => {
        const rate = this.changeRate();
        for (const observer of this.observers) observer(rate);
      }, 1000);
      return unobserve;
    } catch (error) {
      unobserve();
      throw error;
    }
  }

  /**
   * Keeps watching for changes while nobody watches the screen, without reading it, so that
   * changeRate() knows how busy it is when a session is requested. A still screen sends no events
   * at all; a busy one a few dozen to a few hundred small ones a second.
   */
  async watchWhileIdle(): Promise<void> {
    this.watchIdle = true;
    const reader = await this.connect();
    if (!this.watching) this.watchOnly(reader);
  }

  /**
   * Screens' worth of the screen changed over the last whole second (changed-area.ts): a film
   * redraws its whole area every frame, a terminal only its lines and what it scrolled.
   */
  changedScreens(): number {
    const size = this.size;
    return size ? this.area.lastSecond(performance.now()).area / (size.width * size.height) : 0;
  }

  /**
   * The share of the screen a change covered, on average over the last whole second's changes: a
   * full-screen film ~1, whatever X's report cadence; a terminal window its share of the screen.
   */
  changedShare(): number {
    const size = this.size;
    const { area, slots } = this.area.lastSecond(performance.now());
    return size && slots ? area / slots / (size.width * size.height) : 0;
  }

  /** Frames' worth of the screen that changed in the last second (while watched). */
  changeRate(): number {
    this.forgetOldChanges(performance.now());
    return this.recentChanges.length;
  }

  private forgetOldChanges(now: number) {
    const from = this.recentChanges.findIndex((at) => now - at < 1000);
    this.recentChanges.splice(0, from < 0 ? this.recentChanges.length : from);
  }

  private get inUse(): boolean {
    return this.subscribers.size > 0 || this.observers.size > 0;
  }

  /** Counts a change in the frame slot it fell in: a slot with many changes is one frame. */
  private noteChange() {
    const now = performance.now();
    const slot = Math.floor(now / (1000 / this.options.fps));
    if (slot === this.lastChangedSlot) return;
    this.lastChangedSlot = slot;
    this.recentChanges.push(now);
    if (this.recentChanges.length > 2 * this.options.fps) this.forgetOldChanges(now);
  }

  close(): void {
    this.subscribers.clear();
    this.observers.clear();
    clearInterval(this.rateTimer);
    this.rateTimer = undefined;
    this.idle();
    this.reader?.close();
    this.reader = undefined;
    void this.framebuffer?.close();
    this.framebuffer = undefined;
  }

  /** How the screen is read: from Xvfb's framebuffer file, or with GetImage (for the debug log). */
  get source(): "framebuffer" | "GetImage" {
    return this.framebuffer ? "framebuffer" : "GetImage";
  }

  private connect(): Promise<XScreenReader> {
    if (this.reader) return Promise.resolve(this.reader);
    this.opening ??= this.openReader().then(
      (reader) => {
        this.opening = undefined;
        this.reader = reader;
        reader.onDamage = (rect) => this.damaged(rect);
        reader.x.onClose = (error) => {
          if (this.reader !== reader) return;
          this.options.log.warn({ err: error }, "lost the X connection used for capture");
          this.reader = undefined;
          // A restarted server makes a new file: the old one's pixels would never change again.
          void this.framebuffer?.close();
          this.framebuffer = undefined;
          this.setLatest(undefined);
          this.idle();
        };
        return reader;
      },
      (error: unknown) => {
        this.opening = undefined;
        this.unusable = true;
        this.options.log.warn(
          { err: error },
          "cannot capture the screen by what changed; ffmpeg grabs the whole screen instead",
        );
        throw error;
      },
    );
    return this.opening;
  }

  /** The display's reader, and its framebuffer file when there is one it can read. */
  private async openReader(): Promise<XScreenReader> {
    const reader = await this.options.open();
    const path = this.options.framebuffer;
    if (path && !this.framebuffer) {
      try {
        const file = await FramebufferFile.open(path);
        const { width, height } = await reader.size();
        const { layout } = file;
        if (layout.width === width && layout.height === height && layout.pixelFormat === reader.pixelFormat) {
          this.framebuffer = file;
        } else {
          await file.close();
          throw new Error(
            `it holds a ${layout.width}x${layout.height} screen, the display is ${width}x${height}`,
          );
        }
      } catch (error) {
        this.options.log.warn(
          { err: error, path },
          "cannot read the framebuffer file; reading the screen with GetImage",
        );
      }
    }
    return reader;
  }

  /** The framebuffer file, while its screen is the size of the display's. */
  private framebufferOf(width: number, height: number): FramebufferFile | undefined {
    const layout = this.framebuffer?.layout;
    return layout && layout.width === width && layout.height === height ? this.framebuffer : undefined;
  }

  private get watching(): boolean {
    return this.watchingReader !== undefined && this.watchingReader === this.reader;
  }

  /** Changes made before watching began are not reported: the picture starts over from the screen. */
  private async startWatching(reader: XScreenReader) {
    this.watchOnly(reader);
    await this.readAll();
  }

  private watchOnly(reader: XScreenReader) {
    reader.watch();
    this.watchingReader = reader;
    this.setLatest(undefined);
  }

  /** Watching, and the whole screen read: the picture to start from is there. */
  private async ready(reader: XScreenReader) {
    if (!this.watching) await this.startWatching(reader);
    else if (!this.latest) await this.readAll();
  }

  /** The last subscriber left: still watching for an observer, else idle. */
  private stopReading() {
    if (!this.observers.size) return this.idle();
    clearTimeout(this.frameTimer);
    clearTimeout(this.quietTimer);
    this.frameTimer = this.quietTimer = undefined;
  }

  private idle() {
    clearTimeout(this.frameTimer);
    clearTimeout(this.quietTimer);
    clearTimeout(this.unusedTimer);
    clearInterval(this.cursorTimer);
    clearTimeout(this.cursorReadTimer);
    this.frameTimer =
      this.quietTimer =
      this.unusedTimer =
      this.cursorTimer =
      this.cursorReadTimer =
        undefined;
    try {
      this.pointerWatchedOn?.unwatchPointer();
    } catch {
      // The connection is gone, and its selections with it.
    }
    this.pointerWatchedOn = undefined;
    this.dirty = [];
    this.setLatest(undefined);
    if (this.watchIdle && this.watching) return;
    this.watchingReader = undefined;
    try {
      this.reader?.unwatch();
    } catch {
      // The connection is gone; there is nothing left to unwatch.
    }
  }

  private damaged(rect: Rect) {
    this.stats.damage++;
    if (!this.watching) return;
    this.noteChange();
    this.area.note(rect, performance.now());
    // Prepared and not yet read (or reading slower than the screen changes): one bound will do.
    if (this.dirty.length >= MAX_DIRTY_RECTS) this.dirty = [boundingBox(this.dirty)!];
    this.dirty.push(rect);
    if (this.subscribers.size) this.scheduleFrame();
    // Only observed (an encoder grabs the screen meanwhile): the picture kept is no longer the
    // screen, so nobody may start from it; the next subscriber reads what changed first.
    else if (this.observers.size) this.setLatest(undefined);
  }

  /** A frame at the next slot the frame rate allows, unless one is already due. */
  private scheduleFrame() {
    if (this.frameTimer || this.grabbing) return;
    const wait = Math.max(0, this.lastFrameAt + 1000 / this.options.fps - performance.now());
    this.frameTimer = setTimeout(() => {
      this.frameTimer = undefined;
      void this.grab();
    }, wait);
  }

  private async grab() {
    const reader = this.reader;
    if (!reader || !this.screen || this.grabbing) return;
    this.grabbing = true;
    const startedAt = performance.now();
    try {
      const rects = this.dirty;
      this.dirty = [];
      const area = rects.length ? await this.readRects(reader, rects) : 0;
      const burst = performance.now() - this.lastFrameAt < BURST_GAP_MS;
      this.handOut(burst || area >= this.width * this.height * LARGE_CHANGE_SHARE);
    } catch (error) {
      // A read outside the screen (it just shrank) fails; the whole screen is read again instead.
      this.options.log.debug({ err: error }, "partial screen read failed; reading it all");
      await this.readAll().catch((e: unknown) => this.options.log.warn({ err: e }, "cannot read the screen"));
    } finally {
      this.grabbing = false;
      this.stats.grabs++;
      this.stats.grabMs += performance.now() - startedAt;
      if (this.dirty.length || this.cursorMoved) this.scheduleFrame();
    }
  }

  /** Reads the whole screen (at the start, and when its size may have changed), then hands it out. */
  private async readAll() {
    const reader = await this.connect();
    const { width, height } = await reader.size();
    // Noted before reading, as in readRects(): a read that fails halfway has written some rows.
    this.changes.wrote(0, height);
    const framebuffer = this.framebufferOf(width, height);
    if (framebuffer) {
      await drawn(reader);
      // The copy there is, when the size is the same: filling fresh pages costs ~10 ms at 720p on
      // this VM, at every session's start (TileEncoder.forget() says more).
      const bytes = width * height * 4;
      const screen = this.screen?.length === bytes ? this.screen : Buffer.allocUnsafe(bytes);
      await framebuffer.readRows(0, height, screen);
      this.screen = screen;
    } else {
      this.screen = await reader.image({ x: 0, y: 0, width, height }, (pixels) => Buffer.from(pixels));
    }
    this.width = width;
    this.height = height;
    this.dirty = [];
    this.handOut();
  }

  /** Reads the changed rectangles into the copy of the screen; returns the area read. */
  private async readRects(reader: XScreenReader, rects: Rect[]): Promise<number> {
    const clipped = rects.map((r) => clip(r, this.width, this.height)).filter((r) => r !== undefined);
    const bounds = boundingBox(clipped);
    if (!bounds) return 0;
    // From the file, whole rows are one copy: the rows the changes span, side to side.
    const framebuffer = this.framebufferOf(this.width, this.height);
    // Noted before reading: a read that fails halfway has written some of them.
    this.changes.wrote(bounds.y, bounds.y + bounds.height);
    if (framebuffer) {
      await drawn(reader);
      await framebuffer.readRows(bounds.y, bounds.y + bounds.height, this.screen!);
      return bounds.width * bounds.height;
    }
    const area = clipped.reduce((sum, r) => sum + r.width * r.height, 0);
    const reads =
      clipped.length <= MAX_SEPARATE_READS && area < (bounds.width * bounds.height) / 2 ? clipped : [bounds];
    // Sent together, answered in order: one round trip for all of them.
    await Promise.all(reads.map((r) => reader.image(r, (pixels) => this.paste(r, pixels))));
    return reads.reduce((sum, r) => sum + r.width * r.height, 0);
  }

  private paste(rect: Rect, pixels: Buffer) {
    const stride = this.width * 4;
    const rowBytes = rect.width * 4;
    for (let row = 0; row < rect.height; row++) {
      pixels.copy(this.screen!, (rect.y + row) * stride + rect.x * 4, row * rowBytes, (row + 1) * rowBytes);
    }
  }

  /**
   * A new frame: the screen with the pointer drawn on it, to everyone watching; `sharpen`: repeat
   * it once the screen is quiet (REFRESH_AFTER_MS), else only the heartbeat follows.
   */
  private handOut(sharpen = true) {
    if (!this.screen || !this.reader) return;
    this.cursorMoved = false;
    const frame = this.frameBuffer(this.reader.pixelFormat);
    const pointerRows = this.cursor && rowsOf(cursorBox(this.cursor), this.height);
    this.handOuts++;
    this.changes.handedOut(this.handOuts, this.pointerRows, pointerRows);
    this.pointerRows = pointerRows;
    // A reused buffer holds an earlier hand-out: only the rows changed since are copied.
    const stale =
      frame.handOut === undefined ? undefined : this.changes.between(frame.handOut, this.handOuts);
    const rows = stale ?? { top: 0, bottom: this.height };
    if (rows.bottom > rows.top) {
      const stride = this.width * 4;
      this.screen.copy(frame.data, rows.top * stride, rows.top * stride, rows.bottom * stride);
    }
    frame.handOut = this.handOuts;
    if (this.cursor) drawCursor(frame.data, this.width, this.height, this.cursor, frame.pixelFormat);
    this.setLatest(frame);
    this.lastFrameAt = performance.now();
    this.reportStats();
    for (const subscriber of this.subscribers) this.give(frame, subscriber);
    this.quietStep = sharpen ? 0 : REFRESH_AFTER_MS.length;
    this.scheduleQuiet();
  }

  /** What the capture did lately, in the debug log every few seconds while it runs. */
  private reportStats() {
    const now = performance.now();
    const stats = this.stats;
    stats.frames++;
    if (now - stats.since < STATS_EVERY_MS) return;
    const seconds = (now - stats.since) / 1000;
    this.options.log.debug(
      {
        damagePerS: Math.round(stats.damage / seconds),
        framesPerS: +(stats.frames / seconds).toFixed(1),
        grabMs: +(stats.grabMs / Math.max(1, stats.grabs)).toFixed(1),
        source: this.source,
        newBuffers: stats.allocated,
        subscribers: this.subscribers.size,
      },
      "capture",
    );
    this.stats = { since: now, damage: 0, frames: 0, grabs: 0, grabMs: 0, allocated: 0 };
  }

  private give(frame: PooledFrame, subscriber: RawFrameSubscriber) {
    frame.holders++;
    subscriber.onFrame(frame);
  }

  private setLatest(frame: PooledFrame | undefined) {
    this.latest?.release();
    if (frame) frame.holders++;
    this.latest = frame;
  }

  /** A free buffer of the pool for the current size, or a new one (kept if the pool has room). */
  private frameBuffer(pixelFormat: RawPixelFormat): PooledFrame {
    const { width, height } = this;
    const free = this.pool.find((f) => f.holders === 0 && f.width === width && f.height === height);
    if (free) return Object.assign(free, { pixelFormat });
    this.stats.allocated++;
    const frame: PooledFrame = {
      data: Buffer.allocUnsafe(width * height * 4),
      width,
      height,
      pixelFormat,
      holders: 0,
      release: () => {
        frame.holders = Math.max(0, frame.holders - 1);
      },
    };
    // Frames of an old size are never free again: they make room for the new size.
    const stale = this.pool.findIndex((f) => f.width !== width || f.height !== height);
    if (stale >= 0) this.pool.splice(stale, 1);
    if (this.pool.length < POOL_SIZE) this.pool.push(frame);
    return frame;
  }

  /** The repeats after a change (sharpening, then heartbeats), each cancelled by the next change. */
  private scheduleQuiet() {
    clearTimeout(this.quietTimer);
    if (!this.subscribers.size) return;
    const wait = REFRESH_AFTER_MS[this.quietStep] ?? HEARTBEAT_MS;
    this.quietTimer = setTimeout(() => {
      this.quietStep++;
      const latest = this.latest;
      if (latest) for (const subscriber of this.subscribers) this.give(latest, subscriber);
      // A heartbeat is also when a changed screen size shows: the next read takes the new size.
      if (this.quietStep > REFRESH_AFTER_MS.length) void this.checkSize();
      this.scheduleQuiet();
    }, wait);
  }

  private async checkSize() {
    const reader = this.reader;
    if (!reader) return;
    const size = await reader.size().catch(() => undefined);
    if (size && (size.width !== this.width || size.height !== this.height)) {
      await this.readAll().catch((e: unknown) => this.options.log.warn({ err: e }, "cannot read the screen"));
    }
  }

  /** Reads the pointer when X says it moved or changed, else polls it (see CURSOR_POLL_MS). */
  private followPointer(reader: XScreenReader) {
    if (this.cursorTimer) return;
    const told = reader.watchPointer();
    if (told) {
      this.pointerWatchedOn = reader;
      reader.onPointer = () => this.pointerMoved();
    }
    this.cursorTimer = setInterval(() => void this.pollCursor(), told ? CURSOR_CHECK_MS : CURSOR_POLL_MS);
    // Where it is now: the next read may be a second away.
    void this.pollCursor();
  }

  /** X said the pointer moved: read it now, or once CURSOR_POLL_MS have passed since the last read. */
  private pointerMoved() {
    if (this.cursorReadTimer || !this.inUse) return;
    const wait = Math.max(0, this.cursorReadAt + CURSOR_POLL_MS - performance.now());
    this.cursorReadTimer = setTimeout(() => {
      this.cursorReadTimer = undefined;
      void this.pollCursor();
    }, wait);
  }

  private async pollCursor() {
    const reader = this.reader;
    if (!reader || !this.inUse) return;
    this.cursorReadAt = performance.now();
    const cursor = await reader.cursor().catch(() => undefined);
    if (!cursor) return;
    const before = this.cursor;
    if (before && before.x === cursor.x && before.y === cursor.y && before.serial === cursor.serial) return;
    this.cursor = cursor;
    this.noteChange();
    if (!this.subscribers.size) return;
    this.cursorMoved = true;
    // Xvfb draws its own pointer into its framebuffer file, and reports no change for it: read at
    // once after a move, the rows under the old pointer still showed it beside the new one.
    if (this.framebuffer)
      for (const at of before ? [before, cursor] : [cursor]) this.dirty.push(cursorBox(at));
    this.scheduleFrame();
  }
}

/** The screen area a pointer image covers. */
function cursorBox(cursor: CursorImage): Rect {
  return { x: cursor.x - cursor.xhot, y: cursor.y - cursor.yhot, width: cursor.width, height: cursor.height };
}

/** The rows of a screen `height` tall that `rect` covers. */
function rowsOf(rect: Rect, height: number): RowSpan {
  return { top: Math.max(0, rect.y), bottom: Math.min(height, rect.y + rect.height) };
}

/**
 * Waits until the server has drawn every change it reported. DAMAGE reports a change as the server
 * starts drawing it, and the report can leave before the drawing is done (when the server's output
 * to this client fills up mid-request): read from the framebuffer file then, the change would be
 * missed until that area changed again. A round trip (~0.1 ms) settles it: the server answers only
 * after finishing what it was drawing. GetImage needs none, being answered in order itself.
 */
function drawn(reader: XScreenReader): Promise<void> {
  return sync(reader.x);
}

function clip(rect: Rect, width: number, height: number): Rect | undefined {
  const x = Math.max(0, rect.x);
  const y = Math.max(0, rect.y);
  const right = Math.min(width, rect.x + rect.width);
  const bottom = Math.min(height, rect.y + rect.height);
  if (right <= x || bottom <= y) return undefined;
  return { x, y, width: right - x, height: bottom - y };
}

/** Blends the pointer (premultiplied ARGB) onto a frame, clipped to the screen. */
export function drawCursor(
  frame: Buffer,
  width: number,
  height: number,
  cursor: CursorImage,
  format: RawPixelFormat,
): void {
  const left = cursor.x - cursor.xhot;
  const top = cursor.y - cursor.yhot;
  // Byte offsets of red and blue within a pixel; green is always byte 1.
  const [red, blue] = format === "bgr0" ? [2, 0] : [0, 2];
  for (let row = 0; row < cursor.height; row++) {
    const y = top + row;
    if (y < 0 || y >= height) continue;
    for (let col = 0; col < cursor.width; col++) {
      const x = left + col;
      if (x < 0 || x >= width) continue;
      const argb = cursor.pixels[row * cursor.width + col]!;
      const alpha = argb >>> 24;
      if (alpha === 0) continue;
      const at = (y * width + x) * 4;
      const keep = 255 - alpha;
      frame[at + red] = ((argb >>> 16) & 0xff) + Math.round((frame[at + red]! * keep) / 255);
      frame[at + 1] = ((argb >>> 8) & 0xff) + Math.round((frame[at + 1]! * keep) / 255);
      frame[at + blue] = (argb & 0xff) + Math.round((frame[at + blue]! * keep) / 255);
    }
  }
}
