import { describe, expect, it } from "vitest";
import { parseRange, rangeResponse } from "./byte-range.ts";

describe("parseRange", () => {
  it.each([
    ["bytes=0-99", { kind: "partial", start: 0, end: 99 }],
    ["bytes=100-", { kind: "partial", start: 100, end: 999 }],
    ["bytes=-100", { kind: "partial", start: 900, end: 999 }],
    ["bytes=999-999", { kind: "partial", start: 999, end: 999 }],
    ["BYTES = 5-9", { kind: "partial", start: 5, end: 9 }],
    ["bytes= 5-9 ", { kind: "partial", start: 5, end: 9 }],
  ] as const)("reads %s of a 1000-byte body", (header, expected) => {
    expect(parseRange(header, 1000)).toEqual(expected);
  });

  it("cuts an end past the body to the body", () => {
    expect(parseRange("bytes=500-5000", 1000)).toEqual({ kind: "partial", start: 500, end: 999 });
  });

  it("gives the whole body for a suffix longer than it", () => {
    expect(parseRange("bytes=-5000", 1000)).toEqual({ kind: "partial", start: 0, end: 999 });
  });

  it("finds a range that starts past the end, or an empty suffix, unsatisfiable", () => {
    expect(parseRange("bytes=1000-", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=2000-3000", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-0", 1000)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=0-", 0)).toEqual({ kind: "unsatisfiable" });
    expect(parseRange("bytes=-5", 0)).toEqual({ kind: "unsatisfiable" });
  });

  it.each([
    [null],
    ["items=0-5"],
    ["bytes"],
    ["bytes="],
    ["bytes=-"],
    ["bytes=abc"],
    ["bytes=5-1"],
    ["bytes=1-2-3"],
    ["bytes=0x10-20"],
    ["bytes=99999999999999999999-"],
  ])("ignores %s and sends the whole body", (header) => {
    expect(parseRange(header, 1000)).toEqual({ kind: "full" });
  });

  it("answers several ranges with the whole body", () => {
    expect(parseRange("bytes=0-1,5-6", 1000)).toEqual({ kind: "full" });
  });
});

describe("rangeResponse", () => {
  const body = new Uint8Array(Array.from({ length: 10 }, (_, i) => i));
  const headers = { "content-type": "video/mp4", "cache-control": "private, no-store" };

  it("sends all of it with 200 when no range is asked for", async () => {
    const res = rangeResponse(body, null, headers);
    expect(res.status).toBe(200);
    expect(res.headers.get("accept-ranges")).toBe("bytes");
    expect(res.headers.get("content-length")).toBe("10");
    expect(res.headers.get("content-type")).toBe("video/mp4");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect(new Uint8Array(await res.arrayBuffer())).toEqual(body);
  });

  it("sends one range with 206 and its Content-Range", async () => {
    const res = rangeResponse(body, "bytes=2-4", headers);
    expect(res.status).toBe(206);
    expect(res.headers.get("content-range")).toBe("bytes 2-4/10");
    expect(res.headers.get("content-length")).toBe("3");
    expect(res.headers.get("cache-control")).toBe("private, no-store");
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([2, 3, 4]);
    const tail = rangeResponse(body, "bytes=-2", headers);
    expect(tail.headers.get("content-range")).toBe("bytes 8-9/10");
    expect([...new Uint8Array(await tail.arrayBuffer())]).toEqual([8, 9]);
  });

  it("refuses a range past the end with 416 and the body's length", async () => {
    const res = rangeResponse(body, "bytes=10-", headers);
    expect(res.status).toBe(416);
    expect(res.headers.get("content-range")).toBe("bytes */10");
    expect(res.headers.get("content-type")).toBeNull();
    expect((await res.arrayBuffer()).byteLength).toBe(0);
  });
});
