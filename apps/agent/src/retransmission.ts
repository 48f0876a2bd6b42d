/**
 * Retransmission of the packets a viewer reports lost (NACK), through the agent's pacer.
 *
 * werift answers a NACK itself, from its own history, at once: on a narrow link that pacing had
 * just made fit (bench:media's 1 Mbit/s cap with an 80 ms queue), those bursts overflowed the queue
 * again and were lost with more packets behind them. The sender keeps the history here instead,
 * werift's is left empty, and the retransmissions wait their turn in the pacer.
 */
import type { RTCRtpSender, RtpPacket } from "werift";

/** Packets kept: ~0.25 s at 5 Mbit/s of 1,200-byte packets, more than a second on a narrow link. */
const HISTORY_SIZE = 128;

export class SentPackets {
  private readonly history: (RtpPacket | undefined)[] = new Array<RtpPacket | undefined>(HISTORY_SIZE);

  /** A packet as it left, kept until HISTORY_SIZE later ones overwrite it. */
  remember(packet: RtpPacket): void {
    this.history[packet.header.sequenceNumber % HISTORY_SIZE] = packet;
  }

  /** The packets still kept of those `lost` (sequence numbers), in the order asked. */
  find(lost: number[]): RtpPacket[] {
    const found: RtpPacket[] = [];
    for (const seq of lost) {
      const packet = this.history[seq % HISTORY_SIZE];
      if (packet?.header.sequenceNumber === seq) found.push(packet);
    }
    return found;
  }
}

/**
 * Stops werift from answering NACKs on its own: its history (a private array it writes each packet
 * sent into, and reads back when a NACK names one) becomes one that keeps nothing. `onGenericNack`
 * still fires with every NACK, after werift found nothing to send.
 */
export function takeOverRetransmission(sender: RTCRtpSender): void {
  (sender as unknown as { rtpCache: unknown }).rtpCache = new Proxy([], { set: () => true });
}
