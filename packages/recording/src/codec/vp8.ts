/**
 * The VP8 frame header fields a container needs (RFC 6386 §9.1): whether a frame is a keyframe,
 * and for keyframes the version (the VP codec ISO binding's "profile") and the picture size.
 */

export interface Vp8Keyframe {
  /** The frame tag's 3-bit version, 0-3: what vpcC and the `vp08` codec string call the profile. */
  profile: number;
  width: number;
  height: number;
}

/** Bytes 3-5 of every keyframe (RFC 6386 §9.1). */
const START_CODE = [0x9d, 0x01, 0x2a] as const;
/** Frame tag (3) + start code (3) + width (2) + height (2). */
const KEYFRAME_HEADER_BYTES = 10;

/** Frame tag bit 0 is "not a keyframe" (RFC 6386 §9.1). */
export function isVp8Keyframe(frame: Uint8Array): boolean {
  return frame.length > 0 && (frame[0]! & 0x01) === 0;
}

/** The keyframe's header; throws when the frame is not a well-formed keyframe. */
export function parseVp8Keyframe(frame: Uint8Array): Vp8Keyframe {
  if (!isVp8Keyframe(frame)) throw new Error("not a VP8 keyframe");
  if (frame.length < KEYFRAME_HEADER_BYTES || START_CODE.some((byte, i) => frame[3 + i] !== byte)) {
    throw new Error("a VP8 keyframe without its start code");
  }
  // Width and height are 14 bits each, little-endian; the top 2 bits are an upscaling hint for
  // the display, which the decoded picture size does not include.
  const width = (frame[6]! | (frame[7]! << 8)) & 0x3fff;
  const height = (frame[8]! | (frame[9]! << 8)) & 0x3fff;
  if (width === 0 || height === 0) throw new Error("a VP8 keyframe of zero size");
  return { profile: (frame[0]! >> 1) & 0x07, width, height };
}
