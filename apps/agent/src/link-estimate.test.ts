import { describe, expect, it } from "vitest";
import { LinkEstimate } from "./link-estimate.ts";

const BUDGET = 4000;

describe("LinkEstimate", () => {
  it("has no opinion until the receiver reports an estimate", () => {
    const link = new LinkEstimate();
    expect(link.read(0, 3000, BUDGET)).toBeUndefined();
  });

  it("ignores a low estimate while the screen is quiet, however long it lasts", () => {
    const link = new LinkEstimate();
    // A still screen sends ~20 kbit/s; the receiver's estimate sinks to match it.
    for (let i = 0; i < 30; i++) expect(link.read(100_000, 20, BUDGET)).toBeUndefined();
  });

  it("ignores one burst above a low estimate (a keyframe), then a quiet second", () => {
    const link = new LinkEstimate();
    expect(link.read(300_000, 1500, BUDGET)).toBeUndefined();
    expect(link.read(300_000, 20, BUDGET)).toBeUndefined();
    expect(link.read(300_000, 1500, BUDGET)).toBeUndefined();
  });

  it("obeys a lower estimate once the stream has pushed against it for two readings", () => {
    const link = new LinkEstimate();
    expect(link.read(2_000_000, 3000, BUDGET)).toBeUndefined();
    expect(link.read(2_000_000, 3000, BUDGET)).toBe(1700);
  });

  it("does not count a stream as loaded when it sends little of the encoder's budget", () => {
    const link = new LinkEstimate();
    // Above the estimate, but under a quarter of 4000 kbit/s: no evidence of a congested link.
    expect(link.read(500_000, 900, BUDGET)).toBeUndefined();
    expect(link.read(500_000, 900, BUDGET)).toBeUndefined();
  });

  it("takes a higher estimate at once", () => {
    const link = new LinkEstimate();
    link.read(2_000_000, 3000, BUDGET);
    link.read(2_000_000, 3000, BUDGET);
    expect(link.read(4_000_000, 100, BUDGET)).toBe(3400);
  });

  it("says when a link collapsed under load, and what it carries before the headroom", () => {
    const link = new LinkEstimate();
    link.read(4_000_000, 4000, BUDGET);
    link.read(4_000_000, 4000, BUDGET);
    expect(link.collapsed).toBe(false);
    expect(link.estimateKbps).toBeCloseTo(4000);
    // A 5 → 0.5 Mbit/s drop while the stream sends 1.2 Mbit/s: one reading is enough.
    expect(link.read(500_000, 1200, BUDGET)).toBe(425);
    expect(link.collapsed).toBe(true);
    expect(link.estimateKbps).toBeCloseTo(500);
    // Only the reading it happened at.
    link.read(500_000, 400, BUDGET);
    expect(link.collapsed).toBe(false);
  });
});
