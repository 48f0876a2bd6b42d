/**
 * What the receiver's bandwidth estimate (REMB) says about the link, read once a second.
 *
 * An estimate says something about the link only when the stream pushes against it: a quiet screen
 * sends a few kbit/s, and the estimate sinks toward that without any congestion, to strangle the
 * next burst of activity. So a lower estimate counts only after the stream sent at least the
 * estimate, and a real share of what the encoder may use, for a few readings in a row (one keyframe
 * is a burst, not a load); for one reading when it halved under load (a link that just narrowed:
 * waiting costs a freeze). A higher one counts at once.
 */

/** Leave headroom under the estimate for RTP/SRTP overhead and retransmissions. */
const ESTIMATE_SHARE = 0.85;
const READINGS_AT_ESTIMATE = 2;
const LOADED_SHARE = 0.25;
/** Under load, an estimate below this share of the last one is a link that narrowed. */
const COLLAPSE_SHARE = 0.5;

export class LinkEstimate {
  /** The usable kbit/s by the estimates that counted; undefined until one did. */
  kbps: number | undefined;
  /** Whether the last reading that counted was a collapse: the link just narrowed under load. */
  collapsed = false;
  private readingsAtEstimate = 0;

  /** The receiver's estimate behind `kbps`, before the headroom: what the link carries. */
  get estimateKbps(): number | undefined {
    return this.kbps === undefined ? undefined : this.kbps / ESTIMATE_SHARE;
  }

  /**
   * One reading: `estimateBps` as the receiver reported it, `sentKbps` what the stream sent since
   * the last reading, `budgetKbps` what the encoder may use now. Returns the usable kbit/s.
   */
  read(estimateBps: number, sentKbps: number, budgetKbps: number): number | undefined {
    this.collapsed = false;
    if (!estimateBps) return this.kbps;
    const kbps = (estimateBps / 1000) * ESTIMATE_SHARE;
    const loaded = sentKbps >= kbps && sentKbps >= budgetKbps * LOADED_SHARE;
    this.readingsAtEstimate = loaded ? this.readingsAtEstimate + 1 : 0;
    const lower = this.kbps === undefined || kbps < this.kbps;
    const collapsed = this.kbps !== undefined && kbps < this.kbps * COLLAPSE_SHARE;
    const needed = collapsed ? 1 : READINGS_AT_ESTIMATE;
    if (!lower || this.readingsAtEstimate >= needed) {
      this.collapsed = collapsed;
      this.kbps = kbps;
    }
    return this.kbps;
  }
}
