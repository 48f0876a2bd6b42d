/**
 * Splits VP8 frames into RTP packets (RFC 7741): a one-byte payload descriptor with the S bit on
 * each frame's first packet, the marker bit on its last, a 90 kHz timestamp shared by all of a
 * frame's packets, and a sequence number that continues across frames (and across encoder
 * restarts, so the receiver sees one unbroken stream).
 */
import { RtpHeader, RtpPacket } from "werift";

/** Leaves room for SRTP, the RTP header and extensions inside a 1,280-byte path MTU. */
const MAX_PAYLOAD_BYTES = 1100;
const VP8_CLOCK_RATE = 90_000;

export class Vp8Packetizer {
  private sequenceNumber = Math.floor(Math.random() * 0xffff);
  private readonly startedAt = performance.now();
  private readonly timestampBase = Math.floor(Math.random() * 0xffffffff);
  private readonly payloadType: number;

  constructor(payloadType = 96) {
    this.payloadType = payloadType;
  }

  /** The RTP timestamp for now: frames are stamped when they leave the encoder. */
  timestampNow(): number {
    const elapsed = ((performance.now() - this.startedAt) / 1000) * VP8_CLOCK_RATE;
    return (this.timestampBase + Math.floor(elapsed)) >>> 0;
  }

  packetize(frame: Buffer, timestamp = this.timestampNow()): RtpPacket[] {
    const packets: RtpPacket[] = [];
    for (let offset = 0; offset < frame.length; offset += MAX_PAYLOAD_BYTES) {
      const end = Math.min(offset + MAX_PAYLOAD_BYTES, frame.length);
      const descriptor = Buffer.of(offset === 0 ? 0x10 : 0x00);
      const header = new RtpHeader({
        payloadType: this.payloadType,
        sequenceNumber: this.sequenceNumber,
        timestamp,
        marker: end === frame.length,
      });
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      packets.push(new RtpPacket(header, Buffer.concat([descriptor, frame.subarray(offset, end)])));
    }
    return packets;
  }
}
