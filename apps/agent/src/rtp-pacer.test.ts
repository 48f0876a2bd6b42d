import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RtpHeader, RtpPacket } from "werift";
import { RtpPacer } from "./rtp-pacer.ts";

/** `count` packets of 1,188 payload bytes (1,200 with the 12-byte header), numbered from `first`. */
function packets(count: number, first = 0): RtpPacket[] {
  return Array.from(
    { length: count },
    (_, i) =>
      new RtpPacket(new RtpHeader({ sequenceNumber: first + i, payloadType: 96 }), Buffer.alloc(1188)),
  );
}

describe("RtpPacer", () => {
  let sent: number[];
  let overflows: number;
  let pacer: RtpPacer;

  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "performance"] });
    sent = [];
    overflows = 0;
    pacer = new RtpPacer(
      (packet) => sent.push(packet.header.sequenceNumber),
      () => overflows++,
    );
  });
  afterEach(() => {
    pacer.close();
    vi.useRealTimers();
  });

  it("sends at once while no rate is set", () => {
    expect(packets(1)[0]!.serializeSize).toBe(1200);
    pacer.send(packets(50));
    expect(sent).toHaveLength(50);
  });

  it("spreads a burst at the rate, in order", () => {
    pacer.rateKbps = 960; // 120 bytes a millisecond: one 1,200-byte packet every 10 ms
    pacer.send(packets(50));
    // One packet goes at once, the rest at the rate.
    expect(sent).toEqual([0]);
    vi.advanceTimersByTime(100);
    expect(sent.length).toBeGreaterThanOrEqual(10);
    expect(sent.length).toBeLessThanOrEqual(12);
    pacer.send(packets(5, 50));
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual(Array.from({ length: 55 }, (_, i) => i));
    expect(overflows).toBe(0);
  });

  it("drops a queue that would take too long at the rate, and asks for a keyframe", () => {
    pacer.rateKbps = 250;
    pacer.send(packets(20)); // 24 KB: 0.77 s at 250 kbit/s, kept
    expect(overflows).toBe(0);
    pacer.send(packets(30, 20)); // 60 KB in all: 1.9 s, dropped
    expect(overflows).toBe(1);
    vi.advanceTimersByTime(5000);
    expect(sent).toEqual([0]);
  });

  it("lets out no more than 20 ms at the rate back to back after a pause", () => {
    pacer.rateKbps = 2000; // 250 bytes a millisecond: 20 ms is 5,000 bytes, four packets
    pacer.send(packets(1));
    vi.advanceTimersByTime(1000);
    sent = [];
    pacer.send(packets(10, 1));
    expect(sent).toEqual([1, 2, 3, 4]);
    pacer.close();
    pacer.rateKbps = 400; // 50 bytes a millisecond: 20 ms is 1,000 bytes, less than a packet
    vi.advanceTimersByTime(1000);
    sent = [];
    pacer.send(packets(3, 20));
    expect(sent).toEqual([20]);
    vi.advanceTimersByTime(30);
    expect(sent).toEqual([20, 21]);
  });

  it("flushes what is queued when the rate is lifted", () => {
    pacer.rateKbps = 500;
    pacer.send(packets(20));
    pacer.rateKbps = undefined;
    expect(sent).toHaveLength(20);
  });

  it("sends retransmissions ahead of the queue, at the pace", () => {
    pacer.rateKbps = 960;
    pacer.send(packets(5));
    expect(sent).toEqual([0]);
    pacer.resend(packets(2, 100));
    vi.advanceTimersByTime(1000);
    expect(sent).toEqual([0, 100, 101, 1, 2, 3, 4]);
  });

  it("sends retransmissions at once while no rate is set", () => {
    pacer.resend(packets(3, 7));
    expect(sent).toEqual([7, 8, 9]);
  });
});
