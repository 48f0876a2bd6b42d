/**
 * When one viewer's stream is paced (rtp-pacer.ts), and how fast: the decisions, apart from the
 * pacer that carries them out and the peer that feeds them.
 *
 * - Keyframes lost twice in a row (a picture-loss report soon after a keyframe went out): the link
 *   drops bursts. Pace at the receiver's estimate at first, halving with each further lost one.
 * - The link collapsed (the estimate that counted halved under load, or the stream lost too much of
 *   itself): the stream is paced at what it carries now. Sent at the old pace, the keyframe
 *   that follows the encoder down is a burst a narrowed link's short queue drops, and so are the
 *   retransmissions of it: bench:media's 5 → 0.5 Mbit/s drop froze 6-9 s so, paced at 2 Mbit/s.
 * - A paced link that kept its keyframes a while may take more again, a step a second, up to the
 *   receiver's estimate.
 */

/** A picture-loss report this soon after a keyframe went out says that keyframe was lost too. */
const KEYFRAME_LOST_WITHIN_MS = 3000;
/**
 * Twice in a row, and the link drops bursts. Once is not enough, as a browser sometimes asks for a
 * keyframe at the start of a perfectly good stream.
 */
const LOST_KEYFRAMES_TO_PACE = 2;
export const MIN_PACE_KBPS = 250;
/** With no keyframe lost for this long, the pace may rise (by PACE_STEP a second) to the estimate. */
const PACE_CALM_MS = 10_000;
const PACE_STEP = 1.2;

export interface LinkReading {
  /** The receiver's estimate as it is now, kbit/s (0: none). */
  estimateKbps: number;
  /**
   * What the link carries, kbit/s, by the estimate that counted (link-estimate.ts) and the loss
   * reports (loss-estimate.ts); undefined until either says.
   */
  countedKbps: number | undefined;
  /** Whether that has just collapsed: the link narrowed under load. */
  collapsed: boolean;
}

/** What changed the pace, for the log. */
export type PaceChange = { kbps: number; why: "keyframes lost" | "link narrowed" | "link calm" };

export class PaceControl {
  /** kbit/s the stream is paced at; undefined while packets leave at once. */
  kbps: number | undefined;
  /** When the last keyframe was out whole, by the pace. */
  private lastKeyframeAt = -Infinity;
  private lostKeyframes = 0;
  private lastKeyframeLostAt = -Infinity;
  /** When the pace last changed: only a keyframe sent after that says the new pace is too fast. */
  private changedAt = -Infinity;

  /**
   * A keyframe of `bytes` was handed to the pacer. A report of a lost picture before it can have
   * arrived whole is about an earlier one: at the pace, a 30 KB keyframe takes half a second to go
   * out, and each encoder restart's keyframe drew the report meant for the frames before it, halving
   * the pace down to its floor in two seconds (bench:media's 1 Mbit/s row).
   */
  keyframeSent(now: number, bytes: number): void {
    this.lastKeyframeAt = now + (this.kbps === undefined ? 0 : (bytes * 8) / this.kbps);
  }

  /** The viewer reported a lost picture; `targetKbps` is what the encoder may use now. */
  pictureLost(now: number, estimateKbps: number, targetKbps: number): PaceChange | undefined {
    const sinceKeyframe = now - this.lastKeyframeAt;
    const keyframeLost = sinceKeyframe >= 0 && sinceKeyframe < KEYFRAME_LOST_WITHIN_MS;
    this.lostKeyframes = keyframeLost ? this.lostKeyframes + 1 : 0;
    if (keyframeLost) this.lastKeyframeLostAt = now;
    if (this.lostKeyframes < LOST_KEYFRAMES_TO_PACE) return undefined;
    const current = this.kbps;
    if (current !== undefined && this.lastKeyframeAt < this.changedAt) return undefined;
    const first = estimateKbps > 0 ? Math.min(estimateKbps, targetKbps) : targetKbps / 2;
    return this.set(now, current === undefined ? first : current / 2, "keyframes lost");
  }

  /** Once a second, with the receiver's estimate: slower if the link narrowed, else perhaps faster. */
  linkRead(now: number, link: LinkReading): PaceChange | undefined {
    const narrowed = this.linkNarrowed(now, link);
    if (narrowed) return narrowed;
    const pace = this.kbps;
    if (pace === undefined || now - this.lastKeyframeLostAt < PACE_CALM_MS) return undefined;
    // Up to what the link carries, not past it: the next reading would only bring it down again.
    const ceiling = link.countedKbps ?? link.estimateKbps;
    return this.set(now, Math.min(pace * PACE_STEP, Math.max(pace, ceiling)), "link calm");
  }

  /** Whenever what the link carries may have fallen (a loss report, too). */
  linkNarrowed(now: number, link: Omit<LinkReading, "estimateKbps">): PaceChange | undefined {
    const { countedKbps } = link;
    if (countedKbps === undefined) return undefined;
    // Only a collapse: paced at a lower estimate that merely wavers, a key's burst of frames waited
    // in the pacer's queue (input-to-photon p50 262 ms at 1 % loss, against 29 ms).
    if (!link.collapsed || (this.kbps !== undefined && countedKbps >= this.kbps)) return undefined;
    return this.set(now, countedKbps, "link narrowed");
  }

  private set(now: number, kbps: number, why: PaceChange["why"]): PaceChange | undefined {
    const rounded = Math.round(Math.max(MIN_PACE_KBPS, kbps));
    if (rounded === this.kbps) return undefined;
    this.kbps = rounded;
    this.changedAt = now;
    return { kbps: rounded, why };
  }
}
