import { describe, expect, it } from "vitest";
import { isVp8Keyframe, parseVp8Keyframe } from "./vp8.ts";

/** A keyframe's first ten bytes (RFC 6386 §9.1), version 0 unless told, then a little payload. */
function keyframe(width: number, height: number, { version = 0, scale = 0 } = {}): Uint8Array {
  const tag = (1234 << 5) | (1 << 4) | (version << 1); // partition size, shown, keyframe
  const w = width | (scale << 14);
  const h = height | (scale << 14);
  return Uint8Array.of(
    tag & 0xff,
    (tag >> 8) & 0xff,
    tag >> 16,
    0x9d,
    0x01,
    0x2a,
    w & 0xff,
    w >> 8,
    h & 0xff,
    h >> 8,
    7,
  );
}

describe("VP8 frame header", () => {
  it("reads size and version from a keyframe", () => {
    expect(parseVp8Keyframe(keyframe(1366, 768, { version: 1 }))).toEqual({
      profile: 1,
      width: 1366,
      height: 768,
    });
  });

  it("leaves the upscaling bits out of the size", () => {
    expect(parseVp8Keyframe(keyframe(640, 360, { scale: 3 }))).toMatchObject({ width: 640, height: 360 });
  });

  it("tells keyframes from interframes by the tag's low bit", () => {
    expect(isVp8Keyframe(keyframe(640, 360))).toBe(true);
    expect(isVp8Keyframe(Uint8Array.of(0x31, 0x02, 0x00))).toBe(false);
    expect(isVp8Keyframe(new Uint8Array())).toBe(false);
  });

  it("refuses an interframe, a keyframe without start code, or one cut short", () => {
    expect(() => parseVp8Keyframe(Uint8Array.of(0x31, 0x02, 0x00, 1, 2, 3, 4, 5, 6, 7))).toThrow(
      /not a VP8 keyframe/,
    );
    const damaged = keyframe(640, 360);
    damaged[4] = 0;
    expect(() => parseVp8Keyframe(damaged)).toThrow(/start code/);
    expect(() => parseVp8Keyframe(keyframe(640, 360).subarray(0, 8))).toThrow(/start code/);
  });
});
