/**
 * Encoded frames as RTP packets, for either codec: the codec's payload format (vp8-packetizer.ts,
 * h264-packetizer.ts) cuts a frame into payloads, and this stamps them — one 90 kHz timestamp for
 * all of a frame's packets, the marker bit on its last, and a sequence number that continues across
 * frames (and across encoder restarts, so the receiver sees one unbroken stream). Header
 * extensions given to it ride on the first packet of every frame (peer.ts: the playout delay).
 */
import { RtpHeader, RtpPacket } from "werift";
import { h264Payloads } from "./h264-packetizer.ts";
import type { VideoCodec } from "./video-codec.ts";
import { vp8Payloads } from "./vp8-packetizer.ts";

/** Cuts one frame into RTP payloads, none longer than `maxPayloadBytes`, in sending order. */
export type PayloadFormat = (frame: Buffer, maxPayloadBytes: number) => Buffer[];

/** An RTP header extension (RFC 8285) by the id the session negotiated for it. */
export interface FrameExtension {
  id: number;
  payload: Buffer;
}

/** Leaves room for SRTP, the RTP header and extensions inside a 1,280-byte path MTU. */
export const MAX_PAYLOAD_BYTES = 1100;
/** Both VP8 (RFC 7741 §6.1) and H.264 (RFC 6184 §8.2.1) use a 90 kHz RTP clock. */
const VIDEO_CLOCK_RATE = 90_000;

const PAYLOAD_FORMATS: Record<VideoCodec, PayloadFormat> = { vp8: vp8Payloads, h264: h264Payloads };

export class RtpPacketizer {
  private sequenceNumber = Math.floor(Math.random() * 0xffff);
  private readonly startedAt = performance.now();
  private readonly timestampBase = Math.floor(Math.random() * 0xffffffff);
  private readonly format: PayloadFormat;
  private readonly payloadType: number;
  private readonly frameExtensions: FrameExtension[];

  constructor(codec: VideoCodec, payloadType = 96, frameExtensions: FrameExtension[] = []) {
    this.format = PAYLOAD_FORMATS[codec];
    this.payloadType = payloadType;
    this.frameExtensions = frameExtensions;
  }

  /** The RTP timestamp for now: frames are stamped when they leave the encoder. */
  timestampNow(): number {
    const elapsed = ((performance.now() - this.startedAt) / 1000) * VIDEO_CLOCK_RATE;
    return (this.timestampBase + Math.floor(elapsed)) >>> 0;
  }

  packetize(frame: Buffer, timestamp = this.timestampNow()): RtpPacket[] {
    const payloads = this.format(frame, MAX_PAYLOAD_BYTES);
    return payloads.map((payload, index) => {
      const header = new RtpHeader({
        payloadType: this.payloadType,
        sequenceNumber: this.sequenceNumber,
        timestamp,
        marker: index === payloads.length - 1,
        extensions: index === 0 ? this.frameExtensions.map((e) => ({ ...e })) : [],
      });
      this.sequenceNumber = (this.sequenceNumber + 1) & 0xffff;
      return new RtpPacket(header, payload);
    });
  }
}
