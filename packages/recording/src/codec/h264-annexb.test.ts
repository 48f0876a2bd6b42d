import { describe, expect, it } from "vitest";
import { NAL_TYPE, nalType, splitAnnexB } from "./h264-annexb.ts";

const hex = (units: Uint8Array[]) => units.map((u) => Buffer.from(u).toString("hex"));

describe("splitAnnexB", () => {
  it("splits at 3- and 4-byte start codes", () => {
    const au = Buffer.from("00000001 6742c01f 000001 68ce3c80 00000001 658884".replaceAll(" ", ""), "hex");
    expect(hex(splitAnnexB(au))).toEqual(["6742c01f", "68ce3c80", "658884"]);
  });

  it("drops trailing zero bytes, which no NAL unit ends with", () => {
    const au = Buffer.from("0000000109f0 0000 00000001 41 9a 00 00".replaceAll(" ", ""), "hex");
    expect(hex(splitAnnexB(au))).toEqual(["09f0", "419a"]);
  });

  it("keeps bytes that only look like part of a start code", () => {
    const au = Buffer.from("00000001 41 00 00 03 01 9a".replaceAll(" ", ""), "hex");
    expect(hex(splitAnnexB(au))).toEqual(["41000003019a"]);
  });

  it("refuses length-prefixed or headless bytes", () => {
    expect(() => splitAnnexB(Buffer.from("00000003419a22", "hex"))).toThrow(/start code/);
    expect(() => splitAnnexB(Buffer.from("ff00000141", "hex"))).toThrow(/start code/);
    expect(() => splitAnnexB(new Uint8Array())).toThrow(/start code/);
  });
});

describe("nalType", () => {
  it("reads the low five bits of the header byte", () => {
    expect(nalType(Uint8Array.of(0x67))).toBe(NAL_TYPE.sps);
    expect(nalType(Uint8Array.of(0x65))).toBe(NAL_TYPE.idrSlice);
    expect(nalType(Uint8Array.of(0x09))).toBe(NAL_TYPE.accessUnitDelimiter);
  });
});
