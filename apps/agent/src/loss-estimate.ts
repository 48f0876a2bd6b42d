/**
 * What the viewer's receiver reports (RTCP) say about loss: the sender's half of congestion
 * control. The receiver's estimate (REMB, link-estimate.ts) is delay-based, and a link with a short
 * drop-tail queue drops rather than delays: bench:media's 5 → 0.5 Mbit/s drop lost half the packets
 * while the estimate held at 1.6 Mbit/s for 15 s.
 *
 * More than 10 % lost while the stream pushed: the link carries about what got through, and the
 * limit drops to that at once, by half at most a reading (a keyframe's burst can lose most of itself
 * on a link that carries far more; GCC's cut of 1 - loss/2 once a second took 5 s to reach a link a
 * tenth as wide). Under 2 %, with the stream near the limit, the limit rises 8 % a second; in
 * between it holds (GCC's bands). Lost means not there when the report was written, so packets
 * retransmitted in time (NACK) do not count: random loss a retransmission repairs is not congestion.
 * Nor do packets the pacer dropped before sending them (unsent()): they never met the link.
 *
 * Cuts start only once a reading found the link keeping what it was sent: loss from the start is
 * the first keyframe's burst, which the pacer is there for (pace-control.ts), and cut on it a
 * 1 Mbit/s link went down to 150 kbit/s within three seconds.
 */

const HIGH_LOSS = 0.1;
const LOW_LOSS = 0.02;
/** The rise a second under low loss. */
const RISE = 1.08;
/** Fewer packets than this since the last reading say nothing about a share lost. */
const MIN_PACKETS = 20;
/**
 * Reports come with every NACK the receiver sends (compound RTCP), so several a second while it
 * loses packets: reading each one (not polling once a second) is what makes a drop felt within a
 * few hundred ms. Closer than this they are taken together.
 */
const MIN_READING_MS = 250;
/**
 * After a cut, reports cover packets sent before it (in flight, or in the link's queue) for about a
 * round trip and the queue's length: they say nothing about the new rate. Cutting again on them took
 * a 5 → 0.5 Mbit/s drop down to 290 kbit/s.
 */
const HOLD_AFTER_CUT_MS = 500;
/** A stream sending under this share of the encoder's budget is not pushing (one keyframe, say). */
const LOADED_SHARE = 0.25;
/** Rising needs the stream near the limit: a quiet screen proves nothing about the link. */
const NEAR_LIMIT_SHARE = 0.5;
/** A reading cuts the limit to no less than this share of what was sent. */
const MAX_CUT = 0.5;

interface Reading {
  at: number;
  /** Cumulative packets lost. */
  lost: number;
  /** The extended highest sequence number received. */
  highest: number;
}

export class LossEstimate {
  /** kbit/s the link delivered when it last lost too much, risen since; undefined until then. */
  deliveredKbps: number | undefined;
  private last?: Reading;
  private cutAt = -Infinity;
  /** A reading found little lost: loss after it means the link changed. */
  private kept = false;
  private bytesSince = 0;
  private unsentSince = 0;

  /** A packet of `bytes` left for the viewer. */
  sent(bytes: number): void {
    this.bytesSince += bytes;
  }

  /** Packets numbered but dropped before they were sent (the pacer's overflow). */
  unsent(packets: number): void {
    this.unsentSince += packets;
  }

  /**
   * A receiver report on the stream, arrived at `now` (ms); `budgetKbps` is what the encoder may use
   * now. Says whether it cut the limit.
   */
  report(now: number, packetsLost: number, highestSequence: number, budgetKbps: number): "cut" | undefined {
    const from = this.last;
    const to = { at: now, lost: signed24(packetsLost), highest: highestSequence };
    if (!from || now - this.cutAt < HOLD_AFTER_CUT_MS) {
      // A fresh start: the next reading covers only what is sent from now on.
      this.last = to;
      this.bytesSince = this.unsentSince = 0;
      return undefined;
    }
    const expected = to.highest - from.highest;
    const elapsedMs = now - from.at;
    if (expected < MIN_PACKETS || elapsedMs < MIN_READING_MS) return undefined;
    this.last = to;
    // What was sent over the same span; the report lags it by a trip.
    const sentKbps = (this.bytesSince * 8) / elapsedMs;
    const lost = to.lost - from.lost - this.unsentSince;
    this.bytesSince = this.unsentSince = 0;
    const loss = Math.min(1, Math.max(0, lost / expected));
    const limit = this.deliveredKbps;
    if (loss < LOW_LOSS) this.kept = true;
    if (loss > HIGH_LOSS && this.kept && sentKbps >= budgetKbps * LOADED_SHARE) {
      const delivered = sentKbps * Math.max(1 - loss, MAX_CUT);
      if (limit !== undefined && delivered >= limit) return undefined;
      this.deliveredKbps = delivered;
      this.cutAt = now;
      return "cut";
    }
    if (loss < LOW_LOSS && limit !== undefined && sentKbps >= limit * NEAR_LIMIT_SHARE)
      this.deliveredKbps = limit * RISE ** Math.min(1, elapsedMs / 1000);
    return undefined;
  }
}

/**
 * The cumulative count is a signed 24-bit field (RFC 3550 §6.4.1), which werift reads unsigned: a
 * retransmitted packet that arrived twice makes it negative, and read as 16.7 million lost.
 */
function signed24(value: number): number {
  return value >= 0x800000 ? value - 0x1000000 : value;
}
