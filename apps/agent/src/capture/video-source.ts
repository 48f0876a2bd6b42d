/**
 * One encoder per display, fanned out to every viewer of it. Viewers subscribe for frames; the
 * source runs ffmpeg while anyone watches and stops it when the last viewer leaves.
 *
 * ffmpeg cannot be told "keyframe now" or "new bitrate" while it runs, so both are done by starting
 * a second encoder and switching to it at its first frame (always a keyframe): the old one keeps
 * streaming until then, so nobody sees a gap. Restarts are rate-limited; requests in between are
 * merged into one. A bitrate change can also move the encoder along the quality ladder (frame
 * rate, then size; quality-ladder.ts).
 *
 * On X the screen is captured by change (x11/damage-capture.ts); with `grabWhenBusy` the source
 * switches to ffmpeg grabbing it while it keeps changing fast, and back once it is quiet
 * (capture-mode.ts says when), the same way: a new encoder, taken over at its first frame.
 */
import type { Logger } from "@rd/log";
import type { EncodedFrame, ScreenSize } from "./encoded-frame.ts";
import type { CaptureTarget, RawInput } from "./ffmpeg-args.ts";
import { CaptureModeSwitch, START_GRABBING_FRAMES_PER_S } from "./capture-mode.ts";
import { ScreenEncoder, type ScreenEncoderEvents } from "./screen-encoder.ts";
import { LADDER, rungFor } from "./quality-ladder.ts";
import type { VideoCodec } from "./video-codec.ts";
import type { DamageCapture, RawFrame } from "./x11/damage-capture.ts";

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
  /**
   * The display's change-driven capture, shared by every source of the display; without it (or
   * once it failed to open) ffmpeg grabs the screen itself.
   */
  capture?: DamageCapture;
  /** With `capture`: let ffmpeg grab the screen while it is busy (capture-mode.ts). */
  grabWhenBusy?: boolean;
  /**
   * Keep a loaded encoder waiting for the next start (prepare()); on unless false, or with
   * `createEncoder` unless true. Tests that count one encoder's processes turn it off.
   */
  spares?: boolean;
  /** For tests: how encoders are made (a spare's `standby` says what it waits for). */
  createEncoder?: (
    kbps: number,
    events: ScreenEncoderEvents,
    standby?: RawInput | "gated",
  ) => { stop(): void; activate?(): void; prime?(frame: RawFrame, handOuts: number): void };
}

/** A new viewer's keyframe should come fast; a PLI storm must not restart ffmpeg every frame. */
const KEYFRAME_INTERVAL_MS = 1000;
/** A viewer who just joined waits for nothing else: less than a lost packet's keyframe may. */
const JOIN_KEYFRAME_INTERVAL_MS = 250;
/**
 * Bitrate changes restart the encoder, so only real changes, and not too often: going down soon (a
 * narrowed link loses packets until the encoder follows), going up after a while.
 */
const BITRATE_INTERVAL_MS = 4000;
const BITRATE_DOWN_INTERVAL_MS = 1000;
const BITRATE_CHANGE_RATIO = 0.25;
/**
 * An encoder started for a session on its way (anticipate()) is stopped if no viewer has come
 * after this long: negotiation takes well under a second, and a session that needs the user's
 * consent is not anticipated.
 */
const ANTICIPATE_MS = 5000;
/** Frames kept for the anticipated viewer, from the keyframe on; past this, it gets a fresh one. */
const MAX_EARLY_FRAMES = 30;
/**
 * A spare taken is replaced this long after, not at once: loading ffmpeg takes CPU that a session
 * being negotiated and starting to stream needs more.
 */
const SPARE_DELAY_MS = 3000;
/** Spares that died while waiting: past this many, encoders start cold. */
const MAX_SPARE_FAILURES = 3;
/**
 * A screen grabbed because it keeps changing (capture-mode.ts: a film, an animation) is encoded at
 * this many frames a second where the agent's rate is a multiple of it (60 by default). ffmpeg
 * converts every grab to YUV before `mpdecimate` can drop an unchanged one, so at 60 a second half
 * of a 30 frames/s film's grabs were converted only to be dropped: bench:media's 1080p motion,
 * ffmpeg alone, 0.41-0.49 core against 0.29-0.31 with every other grab dropped before its
 * conversion, at the same frames/s (ffmpeg-args.ts grabsPerFrame). Capture by change keeps the
 * agent's full rate: it hands out only frames that changed.
 */
const BUSY_GRAB_FPS = 30;
/** An encoder that dies is restarted after this, doubling up to a limit. */
const RESTART_BACKOFF_MS = [500, 1000, 2000, 5000];

/** One encoder process as the source tracks it. */
interface Encoder {
  kbps: number;
  /** Its rung of the quality ladder (frame rate and size for the bitrate). */
  rung: number;
  /** Frames a second it encodes at most: the rung's, capped by the agent's and a busy grab's. */
  fps: number;
  /** Why it was started, for the log. */
  why: string;
  /** A spare's standby: the size of the frames it waits for, or its gate (ffmpeg-args.ts). */
  standby?: RawInput | "gated";
  /** Fed by the change-driven capture; else ffmpeg grabs the screen. */
  byChange: boolean;
  /** Its first frame came. */
  started: boolean;
  /**
   * Handed a picture to encode ahead (a spare fed by change). Once only: the frame after it is a
   * keyframe as well, but no later one.
   */
  primed: boolean;
  stop(): void;
  activate(): void;
  prime(frame: RawFrame, handOuts: number): void;
}

export class VideoSource {
  private readonly viewers = new Set<VideoViewer>();
  private current?: Encoder;
  private next?: Encoder;
  /**
   * Loaded encoders waiting for a start, by what they take: frames captured by change, or a gate
   * before grabbing. One kind is needed, or both where the source switches (grabWhenBusy).
   */
  private readonly spares = new Map<SpareKind, Encoder>();
  private spareTimer?: ReturnType<typeof setTimeout>;
  private spareFailures = 0;
  /** The quality ladder's rung of the encoder started last. */
  private rung = 0;
  private screen?: ScreenSize;
  private lastRestartAt = 0;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private failures = 0;
  private framesSent = 0;
  /**
   * While an encoder runs for a viewer still negotiating (anticipate()): its frames from the last
   * keyframe on, handed to that viewer when it subscribes; "lost" once there were too many.
   */
  private early?: EncodedFrame[] | "lost";
  private anticipateTimer?: ReturnType<typeof setTimeout>;
  /** Capture by change or grab, while the screen is watched for how busy it is (grabWhenBusy). */
  private readonly modes = new CaptureModeSwitch();
  private observing?: Promise<() => void>;
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

  /** How the running encoder takes the screen: by change, or grabbing; undefined when none runs. */
  get capturing(): "change" | "grab" | undefined {
    const running = this.next ?? this.current;
    return running && (running.byChange ? "change" : "grab");
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
    const early = this.early;
    this.early = undefined;
    clearTimeout(this.anticipateTimer);
    this.observe();
    if (!this.current) this.startEncoder("first viewer");
    // The anticipated viewer: the keyframe and what followed it, or the keyframe still to come.
    else if (Array.isArray(early)) for (const frame of early) viewer.onFrame(frame);
    else this.scheduleRestart(JOIN_KEYFRAME_INTERVAL_MS, "viewer joined");
    return () => {
      this.viewers.delete(viewer);
      if (this.viewers.size === 0) this.stopAll();
    };
  }

  /**
   * A session was requested: its first viewer's first frame should be ready when the media path
   * comes up. Captured by change, the capture reads the screen now and the spare encodes it ahead
   * (prepare()). With grabWhenBusy, a screen that kept changing over the last second (the capture
   * watches while idle) is grabbed from the start instead: started by change, a busy 1080p screen
   * took 1.6-2.2 s to its first frame and switched two seconds later (bench:media). Where ffmpeg
   * grabs, its encoder starts now when `startNow` (no consent to wait for; see anticipate()).
   */
  async sessionComing(startNow: boolean): Promise<void> {
    const capture = this.options.capture;
    const first = !this.current && this.viewers.size === 0;
    if (capture?.usable && this.options.grabWhenBusy && first) {
      const framesPerSecond = capture.changeRate();
      this.modes.reset(framesPerSecond >= START_GRABBING_FRAMES_PER_S ? "grab" : "change");
      this.options.log.debug({ framesPerSecond, mode: this.modes.mode }, "session coming");
    }
    if (this.byChange) {
      await capture!.prepare();
      return this.prepare();
    }
    if (!startNow) return;
    this.anticipate();
    if (capture?.usable) await this.prepareStandIn(capture);
  }

  /**
   * A busy screen's grab gets to its first frame 100-500 ms after its start under the load of a
   * Connect (ffmpeg opens the screen, waits a frame period, converts and encodes a whole screen),
   * which made it the last thing a session's first picture waited for. The spare fed by change,
   * loaded and waiting, is handed the screen as it is now and encodes it: that keyframe stands in
   * until the grab's first frame (standIn()).
   */
  private async prepareStandIn(capture: DamageCapture) {
    const spare = this.spares.get("change");
    if (!spare || spare.primed) return;
    await capture.prepare();
    const taken = capture.take();
    if (!taken) return;
    if (!this.grabStarting) return taken.frame.release();
    this.options.log.debug({}, "priming a stand-in");
    spare.prime(taken.frame, taken.handOuts);
  }

  /** A grab runs and has not produced its first frame yet: what a stand-in is for. */
  private get grabStarting(): boolean {
    return !!this.current && !this.current.byChange && !this.current.started;
  }

  /** A spare's primed keyframe: the first picture, while the running grab has shown none yet. */
  private standIn(keyframe: EncodedFrame) {
    if (!this.grabStarting || this.next) return;
    this.options.log.debug({ bytes: keyframe.data.length }, "a stand-in first frame");
    if (Array.isArray(this.early)) this.early = [keyframe];
    for (const viewer of this.viewers) viewer.onFrame(keyframe);
  }

  /**
   * A session that needs no consent prompt is being negotiated: when ffmpeg grabs the screen
   * itself, its encoder starts now rather than at the viewer's answer (the spare, if one waits),
   * so its start-up overlaps the negotiation and its first keyframe is waiting when the media path
   * comes up.
   */
  anticipate(): void {
    if (this.byChange || this.current || this.viewers.size > 0) return;
    this.early = [];
    this.startEncoder("session on its way");
    this.anticipateTimer = setTimeout(() => {
      if (this.viewers.size > 0) return;
      this.early = undefined;
      this.stopAll(false);
    }, ANTICIPATE_MS);
  }

  /** With grabWhenBusy: watches how fast the screen changes, for as long as anyone watches it. */
  private observe() {
    const capture = this.options.capture;
    if (!this.options.grabWhenBusy || !capture?.usable || this.observing) return;
    this.observing = capture
      .observe((rate) => this.changeRate(rate))
      .catch((error: unknown) => {
        this.options.log.warn({ err: error }, "cannot watch the screen for changes; capture mode stays");
        return () => {};
      });
  }

  /** Each second's change rate: a switch of capture mode restarts the encoder the other way. */
  private changeRate(framesPerSecond: number) {
    const switched = this.modes.observe(framesPerSecond);
    if (switched) this.options.log.debug({ framesPerSecond, mode: switched }, "capture mode");
    // Checked every second, not only at the switch: a restart already under way took the old mode.
    const running = this.next ?? this.current;
    if (!running || running.byChange === this.byChange) return;
    this.scheduleRestart(0, this.byChange ? "screen quiet: capture by change" : "screen busy: grab");
  }

  /** Whether an encoder started now is fed by the change-driven capture (else ffmpeg grabs). */
  private get byChange(): boolean {
    if (!this.options.capture?.usable) return false;
    return !this.options.grabWhenBusy || this.modes.mode === "change";
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
    const rung = rungFor(wanted, this.rung);
    if (rung === this.rung && Math.abs(wanted - running) / running < BITRATE_CHANGE_RATIO) return;
    const interval = wanted < running ? BITRATE_DOWN_INTERVAL_MS : BITRATE_INTERVAL_MS;
    this.scheduleRestart(interval, `bitrate ${running} → ${wanted} kbps`);
  }

  stop(): void {
    this.viewers.clear();
    this.stopAll(false);
    clearTimeout(this.spareTimer);
    for (const spare of this.spares.values()) spare.stop();
    this.spares.clear();
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
    const kbps = this.targetKbps;
    this.rung = rungFor(kbps, this.rung);
    this.lastRestartAt = performance.now();
    // A grabbing spare serves a start from nothing (a session, an anticipated one) only. Taken for
    // keyframe and bitrate restarts as well, it changed how a link that just narrowed recovers:
    // bench:media's 5 → 0.5 Mbit/s drop froze 8 s in two runs of three, against 0.2 s without.
    const now = this.kindNow();
    const spare = now && this.spares.get(kindOf(now));
    const fits = !!spare && this.spareFits(spare, kbps, now);
    const warm = fits && (now !== "gated" || !this.current);
    this.options.log.debug({ why, kbps, ...LADDER[this.rung], warm }, "starting encoder");
    const encoder = warm ? spare : this.makeEncoder(kbps);
    // Taken, or no longer fit for a start (another bitrate or rung): either way it is replaced.
    if (spare && (warm || !fits)) {
      if (!warm) spare.stop();
      this.spares.delete(kindOf(now));
    }
    encoder.why = why;
    // Until its first frame, the new encoder waits in `next` while the current one keeps streaming.
    // Placed before activation: a primed spare hands out its keyframe during activate(), and a
    // frame from an encoder that is neither is dropped (the first viewer waited for the next change).
    if (this.current) this.next = encoder;
    else this.current = encoder;
    encoder.activate();
    // The next start (a change-driven keyframe or bitrate restart, the next session) finds one waiting.
    // Not primed: a spare takes one picture to encode ahead, and the one there is now is stale by the
    // time the next session asks (the capture reads the screen afresh for it), which then finds its
    // spare spent and waits for a fresh encode (~100-400 ms on this machine, measured).
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => this.prepare(false), SPARE_DELAY_MS);
  }

  /**
   * Has a spare encoder waiting: an ffmpeg that has loaded and waits on stdin, for the next start
   * to take at once. Captured by change, it waits for frames (once the screen's size is known);
   * grabbing, behind its gate. Waiting costs no CPU, so a spare is also kept between sessions.
   * With `prime`, a spare fed by change is also handed the picture there is, to encode ahead;
   * with `renewSpent`, one primed already and never taken is replaced (see below).
   */
  prepare(prime = true, renewSpent = false): void {
    const { createEncoder, spares } = this.options;
    if (spares === false || (createEncoder && !spares) || this.spareFailures >= MAX_SPARE_FAILURES) return;
    const kbps = this.targetKbps;
    for (const standby of this.spareKinds()) {
      let spare = this.spares.get(kindOf(standby));
      // Primed for a start that did not take it (a stand-in's), a spare cannot be primed again,
      // though it still starts on a keyframe. It is renewed a while after a session (stopAll()),
      // not during one (a spawn stalls this loop ~30 ms), not when one is coming (a fresh spare
      // loads slower than this one starts), and not together with the spare a session took.
      const spent = spare?.primed && renewSpent && !this.current;
      if (!spare || spent || !this.spareFits(spare, kbps, standby)) {
        spare?.stop();
        spare = this.makeEncoder(kbps, standby);
        this.spares.set(kindOf(standby), spare);
      }
      // With a picture already read (a session is coming, or one runs), the spare encodes it ahead.
      const current = prime && standby !== "gated" ? this.options.capture!.take() : undefined;
      if (current) spare.prime(current.frame, current.handOuts);
    }
  }

  /**
   * What spares wait for: the captured screen's frames (of its size) wherever the capture works;
   * with grabWhenBusy a gate as well, for a session on a busy screen (grabbing a busy 1080p screen
   * from a cold start took 0.8-1.1 s to the first frame here); else a gate only.
   */
  private spareKinds(): (RawInput | "gated")[] {
    const capture = this.options.capture;
    if (!capture?.usable) return ["gated"];
    const size = capture.size;
    if (!size) return [];
    return this.options.grabWhenBusy ? [size, "gated"] : [size];
  }

  /** What an encoder started now takes, in the same terms. */
  private kindNow(): RawInput | "gated" | undefined {
    return this.byChange ? this.options.capture!.size : "gated";
  }

  private spareFits(spare: Encoder, kbps: number, kind: RawInput | "gated"): boolean {
    if (!spare.standby || !sameStandby(spare.standby, kind)) return false;
    if (spare.rung !== rungFor(kbps, this.rung)) return false;
    if (spare.fps !== this.ratesFor(spare.rung, spare.byChange).fps) return false;
    return Math.abs(spare.kbps - kbps) / kbps < BITRATE_CHANGE_RATIO;
  }

  /**
   * The frame rate an encoder on `rung` takes, and for a grab how many grabs make a frame. Only a
   * grab chosen for a busy screen is capped at BUSY_GRAB_FPS: where ffmpeg's grab is the only
   * capture (no DAMAGE, other platforms) it also serves typing, which a faster grab serves sooner.
   * The capped grab still grabs at the full rate (and drops the extra grabs before converting
   * them): ffmpeg waits a frame period before its first grab, and the first frame is a session's.
   */
  private ratesFor(rung: number, byChange: boolean): { fps: number; grabsPerFrame?: number } {
    const fps = Math.min(this.options.fps, LADDER[rung]!.fps);
    const grabbingBusy = !byChange && this.options.grabWhenBusy && this.options.capture?.usable;
    const grabsPerFrame = grabbingBusy ? Math.floor(fps / BUSY_GRAB_FPS) : 1;
    return grabsPerFrame > 1 ? { fps: fps / grabsPerFrame, grabsPerFrame } : { fps };
  }

  /** An encoder and how its frames are handled; on standby (a spare) when given one. */
  private makeEncoder(kbps: number, standby?: RawInput | "gated"): Encoder {
    const { log } = this.options;
    const rung = rungFor(kbps, this.rung);
    const { scale } = LADDER[rung]!;
    const byChange = standby ? standby !== "gated" : this.byChange;
    const { fps, grabsPerFrame } = this.ratesFor(rung, byChange);
    const encoder: Encoder = {
      kbps,
      rung,
      fps,
      why: "spare",
      standby,
      byChange,
      started: false,
      primed: false,
      stop: () => {},
      activate: () => {},
      prime: (frame) => frame.release(),
    };
    const events: ScreenEncoderEvents = {
      onScreen: (size) => {
        if (this.screen?.width === size.width && this.screen.height === size.height) return;
        this.screen = size;
        for (const viewer of this.viewers) viewer.onScreen(size);
      },
      onPrimed: (keyframe) => this.standIn(keyframe),
      onFrame: (frame) => {
        if (!encoder.started) {
          // The switch-over: this encoder's first frame is a keyframe; the old one can go.
          encoder.started = true;
          log.debug(
            {
              why: encoder.why,
              ms: Math.round(performance.now() - this.lastRestartAt),
              bytes: frame.data.length,
            },
            "encoder's first frame",
          );
          this.failures = 0;
          if (this.next === encoder) {
            this.current?.stop();
            this.current = encoder;
            this.next = undefined;
          }
        }
        if (this.current !== encoder) return;
        this.framesSent++;
        if (this.early) this.keepEarly(frame);
        for (const viewer of this.viewers) viewer.onFrame(frame);
      },
      onExit: (message) => {
        if (encoder.standby && this.spares.get(kindOf(encoder.standby)) === encoder) {
          this.spares.delete(kindOf(encoder.standby));
          this.spareFailures++;
          return log.warn({ message }, "a spare encoder stopped");
        }
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
          { codec: this.codec, fps, kbps: rate, scale, grabsPerFrame },
          e,
          log,
          byChange ? this.options.capture : undefined,
          standby,
        ));
    const process = create(kbps, events, standby);
    encoder.stop = () => process.stop();
    encoder.activate = () => process.activate?.();
    encoder.prime = (frame, handOuts) => {
      encoder.primed = true;
      if (process.prime) process.prime(frame, handOuts);
      else frame.release();
    };
    return encoder;
  }

  private keepEarly(frame: EncodedFrame) {
    if (frame.keyframe) this.early = [frame];
    else if (Array.isArray(this.early) && this.early.length && this.early.length < MAX_EARLY_FRAMES)
      this.early.push(frame);
    else if (Array.isArray(this.early) && this.early.length) this.early = "lost";
  }

  private stopAll(keepWarm = true) {
    void this.observing?.then((unobserve) => unobserve());
    this.observing = undefined;
    this.modes.reset();
    clearTimeout(this.anticipateTimer);
    this.early = undefined;
    clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    this.current?.stop();
    this.next?.stop();
    this.current = this.next = undefined;
    if (keepWarm) this.prepare(false);
    clearTimeout(this.spareTimer);
    this.spareTimer = setTimeout(() => this.prepare(false, true), SPARE_DELAY_MS);
  }
}

type SpareKind = "change" | "grab";

function kindOf(standby: RawInput | "gated"): SpareKind {
  return standby === "gated" ? "grab" : "change";
}

function sameStandby(a: RawInput | "gated", b: RawInput | "gated"): boolean {
  if (a === "gated" || b === "gated") return a === b;
  return a.width === b.width && a.height === b.height;
}
