import { describe, expect, it } from "vitest";
import { recordingPrefix, segmentKey } from "./keys.ts";
import { InvalidStoreKey } from "./store-error.ts";

describe("store keys", () => {
  it("names a segment by tenant, recording and a zero-padded seq, so keys sort in seq order", () => {
    expect(segmentKey("t1", "0b6c-rec", 1)).toBe("t1/0b6c-rec/000001.m4s");
    expect(segmentKey("t1", "0b6c-rec", 123_456)).toBe("t1/0b6c-rec/123456.m4s");
    expect(recordingPrefix("t1", "0b6c-rec")).toBe("t1/0b6c-rec/");
  });

  it("refuses ids that would step out of their place", () => {
    for (const [tenant, recording] of [
      ["..", "r1"],
      ["t1", "a/b"],
      ["t1", ""],
      ["t1", ".hidden"],
    ] as const) {
      expect(() => recordingPrefix(tenant, recording)).toThrow(InvalidStoreKey);
    }
    expect(() => segmentKey("t1", "r1", -1)).toThrow(RangeError);
  });
});
