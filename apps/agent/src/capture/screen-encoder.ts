/**
 * One ffmpeg process that encodes the screen: frames come out as they are encoded, each stamped
 * when it arrives. The first frame of every process is a keyframe, which is how a keyframe is
 * produced on demand (see video-source.ts).
 *
 * Two inputs: frames the agent captured itself when something changed (damage-capture.ts, on X),
 * written to ffmpeg's stdin; or ffmpeg grabbing the screen itself at the frame rate (the other
 * platforms, and an X server without DAMAGE).
 *
 * Either way an encoder can also be started on standby: ffmpeg loads and then waits on its empty
 * stdin, costing no CPU, until `activate()`. Captured frames need the screen size up front; a
 * grabbing ffmpeg waits behind a gate before it opens the screen (ffmpeg-args.ts). Loading ffmpeg
 * is most of the time an encoder takes to its first frame: ~200 of ~300 ms here, more on a busy
 * machine.
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@rd/log";
import { childEnv } from "../child-env.ts";
import type { EncodedFrame, FrameEvents } from "./encoded-frame.ts";
import {
  CHANGE_DRIVEN_QUALITY,
  type CaptureTarget,
  type EncoderSettings,
  ffmpegArgs,
  gateText,
  type RawInput,
  rawFfmpegArgs,
} from "./ffmpeg-args.ts";
import { createFrameReader } from "./frame-reader.ts";
import type { DamageCapture, RawFrame } from "./x11/damage-capture.ts";

export interface ScreenEncoderEvents extends FrameEvents {
  /** The process ended on its own (not through stop()); `message` says why as well as ffmpeg did. */
  onExit(message: string): void;
  /**
   * A standby encoder's primed keyframe is ready: the screen as it was when primed, whether or
   * not activation later hands it out (a picture to show while another encoder starts).
   */
  onPrimed?(keyframe: EncodedFrame): void;
}

const STDERR_TAIL_CHARS = 2000;

export class ScreenEncoder {
  private child?: ChildProcess;
  private stopped = false;
  private stderrTail = "";
  private unsubscribe?: () => void;
  /** Raw input: the frame being written, and whether a newer one is waiting behind it. */
  private writing = false;
  private waiting?: RawFrame;
  private size?: { width: number; height: number };
  private readonly settings: EncoderSettings;
  private readonly events: ScreenEncoderEvents;
  private readonly log: Logger;
  private readonly display?: string;

  private readonly capture?: DamageCapture;
  /** A grabbing ffmpeg started on standby: what opens its gate (ffmpeg-args.ts). */
  private gate?: string;
  private activated = false;
  private lastWriteAt = 0;
  private paceTimer?: ReturnType<typeof setTimeout>;
  /**
   * A standby encoder primed with the screen as it was: its keyframe, encoded ahead (while the
   * session is still being negotiated), and the capture's hand-out count then. If the screen has
   * not changed by activation, that keyframe is the first frame, at once.
   */
  private primed?: { handOuts: number; keyframe?: EncodedFrame; use?: "emit" | "drop" };

  constructor(
    target: CaptureTarget,
    settings: EncoderSettings,
    events: ScreenEncoderEvents,
    log: Logger,
    capture?: DamageCapture,
    standby?: RawInput | "gated",
  ) {
    this.settings = settings;
    this.events = events;
    this.log = log;
    this.display = target.display;
    this.capture = capture;
    if (!capture) {
      this.gate = standby === "gated" ? gateText(settings) : undefined;
      this.run(ffmpegArgs(target, settings, this.gate !== undefined));
      this.activated = this.gate === undefined;
    } else if (standby && standby !== "gated") {
      this.size = { width: standby.width, height: standby.height };
      this.run(rawFfmpegArgs(standby, this.rawSettings(), true));
    } else {
      this.activate();
    }
  }

  /**
   * Encodes `frame` now, on standby, so that activation can start from its keyframe. Writing a
   * whole screen down the pipe and ffmpeg's first-frame setup take a few hundred milliseconds on a
   * busy machine: this is where they are taken out of the viewer's wait.
   */
  prime(frame: RawFrame, handOuts: number): void {
    if (this.activated || this.primed || this.stopped || !this.size) return frame.release();
    if (frame.width !== this.size.width || frame.height !== this.size.height) return frame.release();
    this.primed = { handOuts };
    this.feed(frame);
  }

  /** An encoded frame: to the events, except a primed keyframe until activation decides. */
  private encoded(frame: EncodedFrame) {
    const primed = this.primed;
    if (primed && !primed.keyframe) {
      primed.keyframe = frame;
      if (!this.activated) this.events.onPrimed?.(frame);
      if (primed.use === "emit") this.events.onFrame(frame);
      return;
    }
    this.events.onFrame(frame);
  }

  /** Frames come only when something changed: coded for quality, capped at the rate. */
  private rawSettings(): EncoderSettings {
    return { ...this.settings, quality: this.settings.quality ?? CHANGE_DRIVEN_QUALITY[this.settings.codec] };
  }

  /** Starts encoding: opens a gated encoder's gate, or subscribes to the capture. */
  activate(): void {
    const capture = this.capture;
    if (this.activated || this.stopped) return;
    this.activated = true;
    if (!capture) return void this.child!.stdin!.end(this.gate);
    const primed = this.primed;
    const unchanged = primed?.handOuts === capture.handOutCount;
    if (primed) {
      primed.use = unchanged ? "emit" : "drop";
      if (unchanged && primed.keyframe) this.events.onFrame(primed.keyframe);
    }
    capture.subscribe({ onFrame: (frame) => this.feed(frame) }, { current: !unchanged }).then(
      (unsubscribe) => {
        if (this.stopped) return unsubscribe();
        this.unsubscribe = unsubscribe;
      },
      (error: unknown) => this.exited(`screen capture failed: ${(error as Error).message}`),
    );
  }

  stop(): void {
    if (this.stopped) return;
    this.letGo();
    this.child?.kill("SIGKILL");
  }

  /** Stops taking frames: the one waiting goes back to the capture's pool. */
  private letGo() {
    this.stopped = true;
    clearTimeout(this.paceTimer);
    this.waiting?.release();
    this.waiting = undefined;
    this.unsubscribe?.();
  }

  private run(args: string[]) {
    const child = spawn("ffmpeg", args, {
      stdio: [this.size || this.gate ? "pipe" : "ignore", "pipe", "pipe"],
      env: childEnv(this.display),
    });
    this.child = child;
    const reader = createFrameReader(this.settings.codec, {
      onScreen: (size) => this.events.onScreen(size),
      onFrame: (frame) => this.encoded(frame),
    });
    let unreadable = false;
    child.stdout!.on("data", (chunk: Buffer) => {
      // Past the first bad byte nothing lines up again; the bytes still in the pipe are noise.
      if (unreadable) return;
      if (!this.activated && this.gate) {
        // This ffmpeg opened the screen without reading its gate: it would grab all the while.
        unreadable = true;
        child.kill("SIGKILL");
        return this.exited("ffmpeg did not wait at its gate; encoders start cold");
      }
      try {
        reader.push(chunk);
      } catch (error) {
        unreadable = true;
        this.log.error({ err: error }, "the encoder's output is unreadable; restarting it");
        child.kill("SIGKILL");
      }
    });
    // Writing to an encoder that just died fails; its exit says why.
    child.stdin?.on("error", () => {});
    child.stderr!.setEncoding("utf8");
    child.stderr!.on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
    });
    child.on("error", (error: NodeJS.ErrnoException) =>
      this.exited(
        error.code === "ENOENT"
          ? "ffmpeg is not installed: sudo apt-get install -y ffmpeg"
          : `ffmpeg could not start: ${error.message}`,
      ),
    );
    child.on("exit", (code, signal) => {
      const said = this.stderrTail.trim().split("\n").slice(-3).join(" | ");
      this.exited(`ffmpeg exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ""}`);
    });
  }

  /**
   * A captured frame: written at once, or, while ffmpeg is still reading the last one, kept as the
   * one to write next (replacing any older one). An encoder that falls behind skips frames instead
   * of queueing them, so what it encodes is never older than one frame.
   */
  private feed(frame: RawFrame) {
    if (this.stopped) return frame.release();
    if (!this.size) {
      this.size = { width: frame.width, height: frame.height };
      this.run(rawFfmpegArgs(frame, this.rawSettings()));
    } else if (frame.width !== this.size.width || frame.height !== this.size.height) {
      // ffmpeg's raw input has a fixed size: a new encoder takes the new one.
      frame.release();
      this.child?.kill("SIGKILL");
      return this.exited(`the screen size changed to ${frame.width}×${frame.height}`);
    }
    if (this.writing || this.paceTimer) {
      this.waiting?.release();
      this.waiting = frame;
      return;
    }
    // An encoder on a lower rung of the quality ladder takes fewer frames than the capture hands out.
    const wait = this.lastWriteAt + 1000 / this.settings.fps - performance.now();
    if (wait > 1) {
      this.waiting = frame;
      this.paceTimer = setTimeout(() => {
        this.paceTimer = undefined;
        const next = this.waiting;
        this.waiting = undefined;
        if (next) this.feed(next);
      }, wait);
      return;
    }
    this.lastWriteAt = performance.now();
    this.writing = true;
    this.child!.stdin!.write(frame.data, () => {
      frame.release();
      this.writing = false;
      const next = this.waiting;
      this.waiting = undefined;
      if (next) this.feed(next);
    });
  }

  private exited(message: string) {
    if (this.stopped) return;
    this.letGo();
    this.events.onExit(message);
  }
}
