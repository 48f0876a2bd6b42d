/**
 * Which way an X screen is captured, chosen by how fast it changes (RD_AGENT_CAPTURE=auto).
 *
 * - `change`: the agent reads what the X server says changed and writes frames to the encoder
 *   (x11/damage-capture.ts). A still or lightly used screen then costs almost nothing, but every
 *   frame crosses a pipe whole, so each one costs more than a grab.
 * - `grab`: ffmpeg grabs the whole screen through shared memory at the frame rate and drops the
 *   unchanged frames. A fixed cost (~0.2 core at 60 Hz, 720p, on this 2-core machine), cheaper
 *   per frame, and the tighter latency tail on a busy screen (`npm run bench:media`).
 *
 * Every switch restarts the encoder (a keyframe), so each way needs a few seconds of evidence: a
 * screen that changes in short bursts (typing, a menu) stays in `change`, and one that keeps
 * changing (a build's log, a video) moves to `grab` and stays there until it has been quiet.
 */
export type CaptureMode = "change" | "grab";

interface Rule {
  /** The mode to move to... */
  to: CaptureMode;
  /** ...when each second's change rate (frames per second with something new) passes this... */
  passes: (framesPerSecond: number) => boolean;
  /** ...this many seconds in a row. */
  seconds: number;
}

/** A screen busy enough for grabbing, and one quiet enough for capture by change. */
export const BUSY_FRAMES_PER_S = 10;
export const QUIET_FRAMES_PER_S = 4;
/**
 * A session starts grabbing when its screen changed more than a quiet one in the second before it
 * was requested. Lower than BUSY_FRAMES_PER_S: a busy screen shows fewer changes while the machine
 * is loaded (bench:media's 1080p motion, 30 frames/s when idle, read 6-21 at session requests), and
 * a wrong guess costs only the switch back after three quiet seconds.
 */
export const START_GRABBING_FRAMES_PER_S = QUIET_FRAMES_PER_S + 1;

const RULES: Record<CaptureMode, Rule> = {
  change: { to: "grab", passes: (rate) => rate >= BUSY_FRAMES_PER_S, seconds: 2 },
  grab: { to: "change", passes: (rate) => rate <= QUIET_FRAMES_PER_S, seconds: 3 },
};

export class CaptureModeSwitch {
  private current: CaptureMode = "change";
  private streak = 0;

  get mode(): CaptureMode {
    return this.current;
  }

  /** One second's change rate; returns the new mode when this second made it switch. */
  observe(framesPerSecond: number): CaptureMode | undefined {
    const rule = RULES[this.current];
    this.streak = rule.passes(framesPerSecond) ? this.streak + 1 : 0;
    if (this.streak < rule.seconds) return undefined;
    this.current = rule.to;
    this.streak = 0;
    return this.current;
  }

  /** Starts over in `mode`: by change unless the screen was seen busy before the session began. */
  reset(mode: CaptureMode = "change"): void {
    this.current = mode;
    this.streak = 0;
  }
}
