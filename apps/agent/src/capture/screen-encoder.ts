/**
 * One ffmpeg process that captures the screen and encodes it: frames come out as they are encoded,
 * each stamped when it arrives. The first frame of every process is a keyframe, which is how a
 * keyframe is produced on demand (see video-source.ts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import type { Logger } from "@rd/log";
import { childEnv } from "../child-env.ts";
import type { FrameEvents } from "./encoded-frame.ts";
import { type CaptureTarget, type EncoderSettings, ffmpegArgs } from "./ffmpeg-args.ts";
import { createFrameReader } from "./frame-reader.ts";

export interface ScreenEncoderEvents extends FrameEvents {
  /** The process ended on its own (not through stop()); `message` says why as well as ffmpeg did. */
  onExit(message: string): void;
}

const STDERR_TAIL_CHARS = 2000;

export class ScreenEncoder {
  private readonly child: ChildProcess;
  private stopped = false;
  private stderrTail = "";

  constructor(target: CaptureTarget, settings: EncoderSettings, events: ScreenEncoderEvents, log: Logger) {
    this.child = spawn("ffmpeg", ffmpegArgs(target, settings), {
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(target.display),
    });
    const reader = createFrameReader(settings.codec, events);
    let unreadable = false;
    this.child.stdout!.on("data", (chunk: Buffer) => {
      // Past the first bad byte nothing lines up again; the bytes still in the pipe are noise.
      if (unreadable) return;
      try {
        reader.push(chunk);
      } catch (error) {
        unreadable = true;
        log.error({ err: error }, "the encoder's output is unreadable; restarting it");
        this.child.kill("SIGKILL");
      }
    });
    this.child.stderr!.setEncoding("utf8");
    this.child.stderr!.on("data", (text: string) => {
      this.stderrTail = (this.stderrTail + text).slice(-STDERR_TAIL_CHARS);
    });
    this.child.on("error", (error: NodeJS.ErrnoException) => {
      if (this.stopped) return;
      this.stopped = true;
      events.onExit(
        error.code === "ENOENT"
          ? "ffmpeg is not installed: sudo apt-get install -y ffmpeg"
          : `ffmpeg could not start: ${error.message}`,
      );
    });
    this.child.on("exit", (code, signal) => {
      if (this.stopped) return;
      this.stopped = true;
      const said = this.stderrTail.trim().split("\n").slice(-3).join(" | ");
      events.onExit(`ffmpeg exited (${signal ?? `code ${code}`})${said ? `: ${said}` : ""}`);
    });
  }

  stop(): void {
    if (this.stopped) return;
    this.stopped = true;
    this.child.kill("SIGKILL");
  }
}
