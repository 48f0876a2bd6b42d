/**
 * Spreads one viewer's RTP packets over time at a rate, once its link has shown that it drops
 * bursts. A keyframe of a text screen is 50–100 KB and leaves the encoder at once; a narrow link
 * with a short queue (1 Mbit/s, 80 ms: 10 KB) drops most of it, the viewer asks for another
 * keyframe, which goes the same way, and the picture never starts. Paced at what the link carries,
 * the same keyframe arrives whole a fraction of a second later. Until the link shows that (see
 * peer.ts), packets leave at once: on a LAN pacing would only delay every keyframe.
 */
import type { RtpPacket } from "werift";

/** How often a paced queue is drained. */
const TICK_MS = 5;
/**
 * Sent back to back even when paced: this long at the rate, and at least one full packet. A fixed
 * few packets' worth (it was 4.8 KB) let a whole 5 KB frame out at once at 400 kbit/s: 100 ms in
 * a narrow link's queue, which the receiver's estimator reads as congestion, cutting its estimate
 * again and again (bench:media's 0.5 Mbit/s drop sank it to 250 kbit/s).
 */
const BURST_MS = 20;
/** The largest packet (rtp-packetizer.ts keeps them inside a 1,280-byte path MTU). */
const MIN_BURST_BYTES = 1280;
/** Longer than this at the rate, the queue is dropped: a fresh keyframe beats a growing lag. */
const MAX_QUEUE_MS = 1500;

export class RtpPacer {
  private rate: number | undefined;
  private queue: RtpPacket[] = [];
  private queuedBytes = 0;
  private credit = MIN_BURST_BYTES;
  private lastAt = 0;
  private timer?: ReturnType<typeof setTimeout>;
  private readonly write: (packet: RtpPacket) => void;
  private readonly onOverflow: (dropped: number) => void;

  /** `onOverflow`: the queue (`dropped` packets) was dropped; the viewer needs a keyframe. */
  constructor(write: (packet: RtpPacket) => void, onOverflow: (dropped: number) => void) {
    this.write = write;
    this.onOverflow = onOverflow;
  }

  /** kbit/s packets leave at; undefined while they leave at once. */
  get rateKbps(): number | undefined {
    return this.rate;
  }

  set rateKbps(kbps: number | undefined) {
    if (this.rate === undefined) {
      this.lastAt = performance.now();
      this.credit = MIN_BURST_BYTES;
    }
    this.rate = kbps;
    this.drain();
  }

  /** Sends the packets of one frame, in order, after any still queued. */
  send(packets: RtpPacket[]): void {
    if (this.rate === undefined && !this.queue.length) {
      for (const packet of packets) this.write(packet);
      return;
    }
    for (const packet of packets) {
      this.queue.push(packet);
      this.queuedBytes += packet.serializeSize;
    }
    if (this.rate !== undefined && (this.queuedBytes * 8) / this.rate > MAX_QUEUE_MS) {
      const dropped = this.queue.length;
      this.clear();
      return this.onOverflow(dropped);
    }
    this.drain();
  }

  /**
   * Sends packets the viewer reported lost again, ahead of anything queued (they are late already),
   * at the same pace: a burst of retransmissions on a narrow link is lost like the packets were.
   */
  resend(packets: RtpPacket[]): void {
    if (!packets.length) return;
    if (this.rate === undefined && !this.queue.length) {
      for (const packet of packets) this.write(packet);
      return;
    }
    this.queue.unshift(...packets);
    for (const packet of packets) this.queuedBytes += packet.serializeSize;
    this.drain();
  }

  close(): void {
    this.clear();
  }

  private drain() {
    clearTimeout(this.timer);
    this.timer = undefined;
    const now = performance.now();
    // kbit/s is bits per ms: the bytes the link took since the last drain.
    if (this.rate !== undefined)
      this.credit = Math.min(burstBytes(this.rate), this.credit + ((now - this.lastAt) * this.rate) / 8);
    this.lastAt = now;
    while (this.queue.length) {
      const size = this.queue[0]!.serializeSize;
      if (this.rate !== undefined && this.credit < size) break;
      const packet = this.queue.shift()!;
      this.queuedBytes -= size;
      this.credit -= size;
      this.write(packet);
    }
    if (this.queue.length) this.timer = setTimeout(() => this.drain(), TICK_MS);
  }

  private clear() {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.queue = [];
    this.queuedBytes = 0;
  }
}

/** kbit/s is bits per ms. */
function burstBytes(kbps: number): number {
  return Math.max(MIN_BURST_BYTES, (kbps * BURST_MS) / 8);
}
