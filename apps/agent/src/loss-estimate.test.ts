import { beforeEach, describe, expect, it } from "vitest";
import { LossEstimate } from "./loss-estimate.ts";

const BUDGET = 4000;

describe("LossEstimate", () => {
  let loss: LossEstimate;
  let at: { ms: number; lost: number; highest: number };
  beforeEach(() => {
    loss = new LossEstimate();
    at = { ms: 0, lost: 0, highest: 1000 };
    loss.report(at.ms, at.lost, at.highest, BUDGET);
    // A first second that kept all it was sent.
    loss.sent(125_000);
    at = { ms: 1000, lost: 0, highest: 1100 };
    loss.report(at.ms, at.lost, at.highest, BUDGET);
  });

  /** `ms` later, the stream sent `kbps` over `packets` of which the report says `lost` were lost. */
  const report = (ms: number, kbps: number, packets: number, lost: number, budget = BUDGET) => {
    loss.sent((kbps * ms) / 8);
    at = { ms: at.ms + ms, lost: at.lost + lost, highest: at.highest + packets };
    return loss.report(at.ms, at.lost, at.highest, budget);
  };

  it("has no limit while little is lost", () => {
    expect(report(1000, 1000, 100, 5)).toBeUndefined();
    expect(report(1000, 1000, 100, 0)).toBeUndefined();
    expect(loss.deliveredKbps).toBeUndefined();
  });

  it("drops to what got through when over 10 % is lost under load, and lower only", () => {
    // A 5 → 0.5 Mbit/s drop: half of a 1.1 Mbit/s stream is lost.
    expect(report(500, 1100, 60, 30)).toBe("cut");
    expect(loss.deliveredKbps).toBe(550);
    // Still losing, but what got through is no less than the limit: nothing new.
    // The encoder follows (its budget with it).
    expect(report(500, 800, 40, 10, 470)).toBeUndefined();
    expect(loss.deliveredKbps).toBe(550);
    expect(report(500, 600, 40, 12, 470)).toBe("cut");
    expect(loss.deliveredKbps).toBeCloseTo(420);
  });

  it("holds between 2 and 10 % lost, and rises under 2 % only while the stream pushes near the limit", () => {
    report(1000, 1000, 100, 50);
    expect(loss.deliveredKbps).toBe(500);
    report(1000, 480, 100, 5);
    expect(loss.deliveredKbps).toBe(500);
    report(1000, 100, 100, 0);
    expect(loss.deliveredKbps).toBe(500);
    report(1000, 450, 100, 1);
    expect(loss.deliveredKbps).toBeCloseTo(540);
    // Half a second rises by half as much, compounded.
    report(500, 450, 50, 0);
    expect(loss.deliveredKbps).toBeCloseTo(540 * Math.sqrt(1.08));
  });

  it("ignores loss while the stream sends little of its budget (a keyframe burst)", () => {
    expect(report(1000, 500, 60, 20)).toBeUndefined();
    expect(loss.deliveredKbps).toBeUndefined();
  });

  it("takes a report with too few packets together with the next one", () => {
    expect(report(1000, 2000, 10, 5)).toBeUndefined();
    // Together: 30 packets, 15 lost, over 2 s of 2 Mbit/s.
    expect(report(1000, 2000, 20, 10)).toBe("cut");
    expect(loss.deliveredKbps).toBe(1000);
  });

  it("takes a report too soon after the last reading together with the next one", () => {
    expect(report(100, 2000, 30, 15)).toBeUndefined();
    expect(report(200, 2000, 30, 15)).toBe("cut");
    expect(loss.deliveredKbps).toBe(1000);
  });

  it("cuts by half at most a reading", () => {
    // A 4 Mbit/s stream into a 1 Mbit/s link loses three packets in four.
    expect(report(500, 4000, 200, 150)).toBe("cut");
    expect(loss.deliveredKbps).toBe(2000);
    expect(report(500, 2000, 100, 50, 1700)).toBe("cut");
    expect(loss.deliveredKbps).toBe(1000);
  });

  it("does not count packets the pacer dropped before sending them", () => {
    loss.unsent(40);
    expect(report(1000, 1000, 100, 45)).toBeUndefined();
    expect(loss.deliveredKbps).toBeUndefined();
  });

  it("reads the cumulative count as the signed field it is: duplicates make it negative", () => {
    // Lost 0 → -2 (two packets arrived twice), read unsigned as 2^24 - 2.
    loss.sent(1000 * 125);
    expect(loss.report(at.ms + 1000, 0x1000000 - 2, at.highest + 100, BUDGET)).toBeUndefined();
    loss.sent(1000 * 125);
    // Then 30 lost: -2 → 28, which is 30 of the 100 packets.
    expect(loss.report(at.ms + 2000, 28, at.highest + 200, BUDGET)).toBe("cut");
    expect(loss.deliveredKbps).toBe(700);
  });

  it("waits half a second after a cut, then reads only what was sent since", () => {
    expect(report(500, 1100, 60, 30)).toBe("cut");
    // Packets from before the cut, still being lost in the link's queue.
    expect(report(250, 1100, 30, 15, 470)).toBeUndefined();
    expect(report(200, 560, 20, 10, 470)).toBeUndefined();
    expect(loss.deliveredKbps).toBe(550);
    // From then on at 500 kbit/s, 4 % lost: the link carries it.
    expect(report(1000, 500, 50, 2, 470)).toBeUndefined();
    expect(loss.deliveredKbps).toBe(550);
  });

  it("does not cut for loss from the start, before a reading found the link keeping what it got", () => {
    const fresh = new LossEstimate();
    fresh.report(0, 0, 0, BUDGET);
    fresh.sent(250_000);
    expect(fresh.report(1000, 50, 100, BUDGET)).toBeUndefined();
    fresh.sent(125_000);
    expect(fresh.report(2000, 50, 200, BUDGET)).toBeUndefined();
    fresh.sent(250_000);
    expect(fresh.report(3000, 100, 300, BUDGET)).toBe("cut");
  });
});
