import { describe, expect, it } from "vitest";
import { RbspReader } from "./rbsp-reader.ts";

describe("RbspReader", () => {
  it("reads unsigned and signed Exp-Golomb codes", () => {
    // ue: 1 → 0, 010 → 1, 011 → 2, 00100 → 3; se: 010 → 1, 011 → -1, 00100 → 2
    const r = new RbspReader(Buffer.from([0b1_010_011_0, 0b0100_010_0, 0b11_00100_0]));
    expect([r.ue(), r.ue(), r.ue(), r.ue()]).toEqual([0, 1, 2, 3]);
    expect([r.se(), r.se(), r.se()]).toEqual([1, -1, 2]);
  });

  it("reads fixed-width fields across byte boundaries, up to 32 bits", () => {
    const r = new RbspReader(Buffer.from([0xab, 0xcd, 0xff, 0xff, 0xff, 0xff]));
    expect(r.u(4)).toBe(0xa);
    expect(r.u(8)).toBe(0xbc);
    expect(r.flag()).toBe(true);
    r.u(3);
    expect(r.u(32)).toBe(0xffffffff);
  });

  it("skips emulation prevention bytes, and only those", () => {
    // 00 00 03 01 carries 00 00 01; a 03 after a single zero is data.
    const r = new RbspReader(Buffer.from([0x00, 0x00, 0x03, 0x01, 0x00, 0x03]));
    expect(r.u(24)).toBe(0x000001);
    expect(r.u(16)).toBe(0x0003);
  });

  it("throws when a field runs past the end", () => {
    const r = new RbspReader(Buffer.from([0x00]));
    expect(() => r.ue()).toThrow(/ended/);
  });
});
