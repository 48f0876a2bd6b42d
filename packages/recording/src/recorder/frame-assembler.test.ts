import { describe, expect, it } from "vitest";
import { RtpHeader, RtpPacket } from "werift";
import { type AssembledFrame, FrameAssembler } from "./frame-assembler.ts";

/** VP8 RTP payloads (RFC 7741): a descriptor byte, then for a frame's first packet the payload header. */
function vp8Frame(firstSeq: number, timestamp: number, key: boolean, parts: number): RtpPacket[] {
  return Array.from({ length: parts }, (_, i) => {
    const descriptor = i === 0 ? 0x10 : 0x00; // S: start of partition 0
    const body = i === 0 ? [key ? 0x00 : 0x01, 0xaa, i] : [0xbb, i];
    return new RtpPacket(
      new RtpHeader({
        sequenceNumber: (firstSeq + i) & 0xffff,
        timestamp,
        marker: i === parts - 1,
        payloadType: 96,
        ssrc: 1,
      }),
      Buffer.from([descriptor, ...body]),
    );
  });
}

function assembler() {
  const frames: AssembledFrame[] = [];
  let losses = 0;
  const a = new FrameAssembler({
    codec: "vp8",
    onFrame: (f) => frames.push(f),
    onLoss: () => losses++,
    lossWaitMs: 100,
  });
  return { a, frames, losses: () => losses };
}

describe("FrameAssembler", () => {
  it("releases whole frames in order, whatever order their packets arrive in, across the 16-bit wrap", () => {
    const { a, frames } = assembler();
    const key = vp8Frame(65534, 1000, true, 3); // 65534, 65535, 0
    const delta = vp8Frame(1, 4000, false, 2);
    for (const p of [key[0]!, key[2]!, delta[1]!, key[1]!, delta[0]!]) a.push(p, 10);
    expect(frames.map((f) => f.keyframe)).toEqual([true, false]);
    expect(frames[0]!.data.length).toBeGreaterThan(0);
    expect(frames[0]!.timeMs).toBe(10);
  });

  it("drops frames until the first keyframe", () => {
    const { a, frames } = assembler();
    for (const p of vp8Frame(10, 1, false, 1)) a.push(p, 0);
    for (const p of vp8Frame(11, 2, true, 1)) a.push(p, 1);
    expect(frames.map((f) => f.keyframe)).toEqual([true]);
  });

  it("after a packet lost for good, asks for a keyframe and drops delta frames until it comes", () => {
    const { a, frames, losses } = assembler();
    for (const p of vp8Frame(100, 1, true, 1)) a.push(p, 0);
    const broken = vp8Frame(101, 2, false, 2);
    a.push(broken[1]!, 5); // its first packet never comes
    for (const p of vp8Frame(103, 3, false, 1)) a.push(p, 10);
    expect(frames).toHaveLength(1);
    for (const p of vp8Frame(104, 4, false, 1)) a.push(p, 200); // the hole is overdue now
    expect(losses()).toBe(1);
    expect(frames).toHaveLength(1);
    for (const p of vp8Frame(105, 5, true, 1)) a.push(p, 210);
    expect(frames.map((f) => f.keyframe)).toEqual([true, true]);
  });
});
