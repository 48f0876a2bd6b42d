import { describe, expect, it } from "vitest";
import { boxes, codecString, mimeCandidates } from "./mp4.ts";

const concat = (...parts: Uint8Array[]) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
};

/** A box of `type` around `parts`. */
function box(type: string, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(...parts);
  const out = new Uint8Array(8 + body.byteLength);
  new DataView(out.buffer).setUint32(0, out.byteLength);
  out.set(
    [...type].map((c) => c.charCodeAt(0)),
    4,
  );
  out.set(body, 8);
  return out;
}

const bytes = (...values: number[]) => Uint8Array.from(values);
const zeros = (n: number) => new Uint8Array(n);

/** A segment like the recorder's: ftyp + moov (one video track with `entry`) + moof + mdat. */
function segment(entry: Uint8Array, mdat = bytes(1, 2, 3)) {
  const stsd = box("stsd", zeros(4), bytes(0, 0, 0, 1), entry);
  const moov = box(
    "moov",
    box("mvhd", zeros(100)),
    box("trak", box("tkhd", zeros(84)), box("mdia", box("mdhd", zeros(24)), box("minf", box("stbl", stsd)))),
  );
  return concat(box("ftyp", bytes(0x69, 0x73, 0x6f, 0x6d)), moov, box("moof", zeros(16)), box("mdat", mdat));
}

// Constrained Baseline, level 3.1: profile 0x42, constraints 0xe0, level 0x1f.
const avc1 = box(
  "avc1",
  zeros(78),
  box("avcC", bytes(1, 0x42, 0xe0, 0x1f, 0xff, 0xe1)),
  box("btrt", zeros(12)),
);
// Profile 0, level 1.0, 8 bits (0x80: bit depth in the top 4 bits).
const vp08 = box("vp08", zeros(78), box("vpcC", bytes(1, 0, 0, 0), bytes(0, 10, 0x80, 1, 1, 1, 0, 0)));

describe("boxes", () => {
  it("lists boxes end to end and stops at a truncated one", () => {
    const two = concat(box("free", zeros(2)), box("skip", zeros(0)));
    expect(boxes(two).map((b) => [b.type, b.start, b.end])).toEqual([
      ["free", 0, 10],
      ["skip", 10, 18],
    ]);
    expect(boxes(two.subarray(0, 15)).map((b) => b.type)).toEqual(["free"]);
  });

  it("reads a 64-bit size and a size of 0 (to the end)", () => {
    const large = new Uint8Array(20);
    const view = new DataView(large.buffer);
    view.setUint32(0, 1);
    large.set([0x6d, 0x64, 0x61, 0x74], 4);
    view.setBigUint64(8, 20n);
    expect(boxes(large)).toEqual([{ type: "mdat", start: 0, contentStart: 16, end: 20 }]);
    const open = box("mdat", zeros(4));
    new DataView(open.buffer).setUint32(0, 0);
    expect(boxes(open)).toEqual([{ type: "mdat", start: 0, contentStart: 8, end: 12 }]);
  });
});

describe("codecString", () => {
  it("reads avc1.PPCCLL from avcC", () => {
    expect(codecString(segment(avc1))).toBe("avc1.42e01f");
  });

  it("keeps the sample entry's name (avc3)", () => {
    const avc3 = box("avc3", zeros(78), box("avcC", bytes(1, 0x64, 0x00, 0x28)));
    expect(codecString(segment(avc3))).toBe("avc3.640028");
  });

  it("reads vp08.PP.LL.DD from vpcC", () => {
    expect(codecString(segment(vp08))).toBe("vp08.00.10.08");
    const noLevel = box("vp08", zeros(78), box("vpcC", bytes(1, 0, 0, 0), bytes(1, 0, 0x80, 1, 1, 1, 0, 0)));
    expect(codecString(segment(noLevel))).toBe("vp08.01.10.08");
  });

  it("gives null for bytes without a readable sample entry", () => {
    expect(codecString(bytes(1, 2, 3))).toBeNull();
    expect(codecString(segment(box("avc1", zeros(78))))).toBeNull();
    expect(codecString(segment(box("mp4a", zeros(40))))).toBeNull();
  });
});

describe("mimeCandidates", () => {
  it("offers the segment's own codec first, then common ones of the recording's codec", () => {
    const offered = mimeCandidates("h264", segment(avc1));
    expect(offered[0]).toBe('video/mp4; codecs="avc1.42e01f"');
    expect(offered.filter((m) => m.includes("42e01f"))).toHaveLength(1);
    expect(offered.length).toBeGreaterThan(1);
    expect(mimeCandidates("vp8", null)).toEqual([
      'video/mp4; codecs="vp08.00.10.08"',
      'video/mp4; codecs="vp8"',
    ]);
    expect(mimeCandidates(null, null)[0]).toMatch(/avc1/);
  });
});
