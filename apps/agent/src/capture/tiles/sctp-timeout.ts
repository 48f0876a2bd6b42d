/**
 * A shorter retransmission timeout for the peer's SCTP association, which carries the tiles.
 *
 * werift keeps RFC 4960's floor of 1 s. The tiles ride one ordered stream, so a lost chunk that no
 * later chunk reveals (the last packet of a keystroke's update, say) holds the picture until the
 * timer fires: a second's freeze for one lost packet. Loss revealed by later chunks is repaired by
 * fast retransmit within a round trip, which the timer does not affect.
 *
 * The floor stays above the browser's delayed acknowledgement: a lone packet (a keystroke's
 * update) is acknowledged up to 200 ms late (SCTP's delayed SACK, in Chromium's and Firefox's
 * stacks alike), and a timer that fires before that resends it for nothing and collapses the
 * congestion window to one packet. 400 ms leaves room for the round trip on top.
 *
 * werift offers no option for it: its association's estimator (RFC 4960 §6.3.1) is wrapped here,
 * on the instance, and read defensively; if its shape is not what this expects, nothing changes.
 */
import type { RTCPeerConnection } from "werift";

/** The timeout's floor, seconds (werift's own unit for it). */
export const MIN_RTO_S = 0.4;
/**
 * Until a round trip is measured: werift starts at 3 s, so a lost channel-open message at the
 * session's start kept the screen channel shut for 3 s (bench:media, 1 % loss), and the viewer was
 * given video instead. RFC 6298's initial timeout is 1 s. It also times the association's INIT,
 * which through a TURN relay was lost at every start in bench:media: the data channels, the
 * tiles among them, opened 3.1 s after DTLS.
 */
const INITIAL_RTO_S = 1;
/** RFC 4960's ceiling, as werift keeps it. */
const MAX_RTO_S = 60;

/** The part of werift's SCTP association used here: its RTO state, in seconds. */
interface AssociationTimers {
  rto?: number;
  srtt?: number;
  rttvar?: number;
  updateRto?: (rttSeconds: number) => void;
}

/** Associations whose timeout is shortened already. */
const shortened = new WeakSet<object>();

/**
 * Whether the timeout is shortened: false while `pc` has no association yet, or one not shaped as
 * expected. Called again for the same association, it changes nothing more.
 */
export function shortenRetransmissionTimeout(pc: RTCPeerConnection): boolean {
  const association = pc.sctpTransport?.sctp as unknown as AssociationTimers | undefined;
  if (association && shortened.has(association)) return true;
  const update = association?.updateRto;
  if (!association || typeof update !== "function" || typeof association.rto !== "number") return false;
  shortened.add(association);
  if (association.srtt === undefined) association.rto = Math.min(association.rto, INITIAL_RTO_S);
  association.updateRto = (rttSeconds: number) => {
    update.call(association, rttSeconds);
    const { srtt, rttvar } = association;
    if (typeof srtt === "number" && typeof rttvar === "number")
      association.rto = Math.min(MAX_RTO_S, Math.max(MIN_RTO_S, srtt + 4 * rttvar));
  };
  return true;
}
