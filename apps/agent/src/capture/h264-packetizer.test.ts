import { describe, expect, it } from "vitest";
import { lengthPrefixed } from "./flv-fixtures.ts";
import { h264Payloads } from "./h264-packetizer.ts";

const MAX = 100;
const aud = Buffer.of(0x09, 0xf0);
const sps = Buffer.from("6742c020da01581879bc0440000003004000000f03c60ca8", "hex");
const pps = Buffer.from("68ce0fc8", "hex");
/** An IDR slice with NRI 3 (0x65) and a recognisable body, 3½ payloads long. */
const idr = Buffer.concat([Buffer.of(0x65), Buffer.from(Array.from({ length: 340 }, (_, i) => i % 251))]);

/** RFC 6184 §5.8 in reverse: the NAL header from the FU indicator and header, then the pieces. */
function reassemble(fragments: Buffer[]): Buffer {
  const indicator = fragments[0]![0]!;
  const header = fragments[0]![1]!;
  return Buffer.concat([
    Buffer.of((indicator & 0xe0) | (header & 0x1f)),
    ...fragments.map((f) => f.subarray(2)),
  ]);
}

describe("h264Payloads (RFC 6184, packetization-mode=1)", () => {
  it("sends a NAL unit that fits as a single NAL unit packet, unchanged", () => {
    expect(h264Payloads(lengthPrefixed([sps, pps]), MAX)).toEqual([sps, pps]);
  });

  it("uses the whole payload size: a NAL unit of exactly the limit is not fragmented", () => {
    const exact = Buffer.concat([Buffer.of(0x41), Buffer.alloc(MAX - 1, 7)]);
    expect(h264Payloads(lengthPrefixed([exact]), MAX)).toEqual([exact]);
  });

  it("cuts a larger NAL unit into FU-A fragments that reassemble to it", () => {
    const fragments = h264Payloads(lengthPrefixed([idr]), MAX);
    expect(fragments).toHaveLength(4); // 340 body bytes, 98 per fragment
    for (const f of fragments) {
      expect(f.length).toBeLessThanOrEqual(MAX);
      expect(f[0]).toBe(0x60 | 28); // F 0 and NRI 3 from the NAL header, type FU-A
      expect(f[1]! & 0x1f).toBe(5); // the fragmented NAL unit's type
    }
    // Start bit on the first only, end bit on the last only, never both.
    expect(fragments.map((f) => [(f[1]! & 0x80) !== 0, (f[1]! & 0x40) !== 0])).toEqual([
      [true, false],
      [false, false],
      [false, false],
      [false, true],
    ]);
    expect(reassemble(fragments)).toEqual(idr);
  });

  it("keeps the access unit's order and drops access unit delimiters", () => {
    const payloads = h264Payloads(lengthPrefixed([aud, sps, pps, idr]), MAX);
    expect(payloads.slice(0, 2)).toEqual([sps, pps]);
    expect(reassemble(payloads.slice(2))).toEqual(idr);
    expect(payloads.some((p) => (p[0]! & 0x1f) === 9)).toBe(false);
  });
});
