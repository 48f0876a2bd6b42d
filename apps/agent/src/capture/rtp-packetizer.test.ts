import { RtpPacket } from "werift";
import { describe, expect, it } from "vitest";
import { lengthPrefixed } from "./flv-fixtures.ts";
import { MAX_PAYLOAD_BYTES, RtpPacketizer } from "./rtp-packetizer.ts";

const aud = Buffer.of(0x09, 0xf0);
const sps = Buffer.from("6742c020da01581879bc0440000003004000000f03c60ca8", "hex");
const pps = Buffer.from("68ce0fc8", "hex");
const idr = Buffer.concat([Buffer.of(0x65), Buffer.alloc(3000, 0x11)]);
const slice = Buffer.concat([Buffer.of(0x41), Buffer.alloc(40, 0x22)]);

describe("RtpPacketizer", () => {
  it("stamps an H.264 access unit: one timestamp, the marker on its last packet only", () => {
    const rtp = new RtpPacketizer("h264", 102);
    const packets = rtp.packetize(lengthPrefixed([aud, sps, pps, idr]), 1234);
    // SPS, PPS, then the IDR slice in three FU-A fragments; the AUD is not sent.
    expect(packets).toHaveLength(5);
    expect(packets.map((p) => p.header.marker)).toEqual([false, false, false, false, true]);
    expect(new Set(packets.map((p) => p.header.timestamp))).toEqual(new Set([1234]));
    expect(new Set(packets.map((p) => p.header.payloadType))).toEqual(new Set([102]));
    expect(Math.max(...packets.map((p) => p.payload.length))).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  });

  it("marks a one-packet access unit, and continues the sequence numbers across frames", () => {
    const rtp = new RtpPacketizer("h264");
    const first = rtp.packetize(lengthPrefixed([sps, pps, idr]));
    const second = rtp.packetize(lengthPrefixed([slice]));
    expect(second.map((p) => p.header.marker)).toEqual([true]);
    const numbers = [...first, ...second].map((p) => p.header.sequenceNumber);
    expect(numbers.map((n) => (n - numbers[0]! + 0x10000) % 0x10000)).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it("sends an access unit of delimiters only as nothing", () => {
    expect(new RtpPacketizer("h264").packetize(lengthPrefixed([aud]))).toEqual([]);
  });

  it("cuts a VP8 frame behind one-byte descriptors, S bit on the first, marker on the last", () => {
    const frame = Buffer.alloc(2500, 0x33);
    const packets = new RtpPacketizer("vp8").packetize(frame, 99);
    expect(packets.map((p) => p.payload[0])).toEqual([0x10, 0x00, 0x00]);
    expect(packets.map((p) => p.header.marker)).toEqual([false, false, true]);
    expect(Buffer.concat(packets.map((p) => p.payload.subarray(1)))).toEqual(frame);
    expect(Math.max(...packets.map((p) => p.payload.length))).toBeLessThanOrEqual(MAX_PAYLOAD_BYTES);
  });

  it("puts its header extensions on the first packet of every frame, and they survive serializing", () => {
    const delay = { id: 3, payload: Buffer.of(0, 0, 0) };
    const rtp = new RtpPacketizer("vp8", 96, [delay]);
    const frames = [rtp.packetize(Buffer.alloc(2500, 1)), rtp.packetize(Buffer.alloc(10, 2))];
    for (const packets of frames) {
      expect(packets.map((p) => p.header.extensions.length)).toEqual([1, ...packets.slice(1).map(() => 0)]);
      const wire = RtpPacket.deSerialize(packets[0]!.serialize());
      expect(wire.header.extensions).toEqual([delay]);
      expect(wire.payload).toEqual(packets[0]!.payload);
    }
  });
});
