import { describe, expect, it } from "vitest";
import { parseXAuthority, pickCookie } from "./xauthority.ts";

/** One record as libXau writes it. */
function record(family: number, address: string, number: string, data: Buffer): Buffer {
  const field = (b: Buffer) => {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(b.length);
    return Buffer.concat([length, b]);
  };
  const head = Buffer.alloc(2);
  head.writeUInt16BE(family);
  return Buffer.concat([
    head,
    field(Buffer.from(address)),
    field(Buffer.from(number)),
    field(Buffer.from("MIT-MAGIC-COOKIE-1")),
    field(data),
  ]);
}

describe("Xauthority", () => {
  const mine = Buffer.alloc(16, 1);
  const other = Buffer.alloc(16, 2);
  const sandboxed = Buffer.alloc(16, 3);
  const file = Buffer.concat([
    record(256, "host-a", "1", other),
    record(256, "host-a", "7", mine),
    record(256, "sandbox", "9", sandboxed),
  ]);

  it("parses every record", () => {
    const entries = parseXAuthority(file);
    expect(entries.map((e) => [e.family, e.address, e.number, e.name])).toEqual([
      [256, "host-a", "1", "MIT-MAGIC-COOKIE-1"],
      [256, "host-a", "7", "MIT-MAGIC-COOKIE-1"],
      [256, "sandbox", "9", "MIT-MAGIC-COOKIE-1"],
    ]);
  });

  it("picks the cookie for this host and display, else any local one for the display", () => {
    const entries = parseXAuthority(file);
    expect(pickCookie(entries, "7", "host-a")).toEqual(mine);
    expect(pickCookie(entries, "9", "host-a")).toEqual(sandboxed);
    expect(pickCookie(entries, "3", "host-a")).toBeUndefined();
  });

  it("says a cut-off file is truncated", () => {
    expect(() => parseXAuthority(file.subarray(0, file.length - 3))).toThrow(/truncated/);
  });
});
