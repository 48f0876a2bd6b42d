import { describe, expect, it } from "vitest";
import { canonicalJson } from "./canonical-json.ts";

describe("canonicalJson", () => {
  it("sorts keys at every depth and drops undefined members", () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[3,{"x":2,"y":1}]},"b":1}',
    );
  });

  it("gives the same text whatever order the keys were inserted in", () => {
    expect(canonicalJson({ x: 1, y: 2 })).toBe(canonicalJson({ y: 2, x: 1 }));
  });

  it("writes dates as ISO strings and refuses values JSON cannot hold", () => {
    expect(canonicalJson({ at: new Date("2026-01-02T03:04:05.678Z") })).toBe(
      '{"at":"2026-01-02T03:04:05.678Z"}',
    );
    expect(() => canonicalJson({ n: Number.NaN })).toThrow(/not valid JSON/);
    expect(() => canonicalJson({ f: () => 1 })).toThrow(/not valid JSON/);
  });
});
