/**
 * Whether a viewer's link has lost anything on the association that carries its tiles. Tiles ride
 * one reliable, ordered SCTP stream: werift sends a lost chunk again only after three reports of
 * the gap or its retransmission timeout (at least 1 s), and the picture waits behind it
 * (bench:media, 5 % loss: a 1.1 s freeze; a drop to 0.5 Mbit/s: 9 s to recover). Video recovers
 * from loss by itself (NACK, keyframes) and adapts its rate, so a viewer whose link loses packets
 * is given video (tile-feed.ts).
 *
 * werift keeps its association's queue private: it is read defensively here, and anything this
 * cannot read counts as no loss.
 */
import type { RTCPeerConnection } from "werift";

/** The part of werift's SCTP association read here. */
interface AssociationView {
  /** Chunks sent and not yet acknowledged: how often each was sent, and gap reports that missed it. */
  sentQueue?: readonly { sentCount?: number; misses?: number }[];
}

/**
 * Whether a chunk still unacknowledged on `pc`'s association was reported missing (the receiver
 * acknowledged later ones: known within a round trip of the loss) or has been sent again.
 */
export function linkLostPackets(pc: RTCPeerConnection): boolean {
  const association = pc.sctpTransport?.sctp as unknown as AssociationView | undefined;
  const queue = association?.sentQueue;
  return Array.isArray(queue) && queue.some((chunk) => (chunk.misses ?? 0) > 0 || (chunk.sentCount ?? 1) > 1);
}
