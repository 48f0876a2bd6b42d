/**
 * H.264 NAL units: the types the agent looks at (ITU-T H.264 Table 7-1) and the AVC
 * length-prefixed framing of an access unit (ISO/IEC 14496-15 §5.3.4.2), which is how FLV carries
 * H.264 and how EncodedFrame holds it.
 */

export const NAL_UNIT_TYPE = {
  slice: 1,
  idrSlice: 5,
  sei: 6,
  sps: 7,
  pps: 8,
  accessUnitDelimiter: 9,
} as const;

/** ffmpeg's FLV muxer always writes 4-byte sizes (lengthSizeMinusOne = 3). */
export const NAL_LENGTH_BYTES = 4;

export function nalUnitType(nal: Buffer): number {
  return nal[0]! & 0x1f;
}

/** The NAL units of a length-prefixed access unit; throws when the sizes do not add up. */
export function splitLengthPrefixed(accessUnit: Buffer): Buffer[] {
  const units: Buffer[] = [];
  let offset = 0;
  while (offset < accessUnit.length) {
    if (accessUnit.length - offset < NAL_LENGTH_BYTES) throw new Error("an H.264 NAL unit size is cut off");
    const size = accessUnit.readUInt32BE(offset);
    offset += NAL_LENGTH_BYTES;
    if (size === 0 || size > accessUnit.length - offset) {
      throw new Error(`an H.264 NAL unit of ${size} bytes does not fit its access unit`);
    }
    units.push(accessUnit.subarray(offset, offset + size));
    offset += size;
  }
  return units;
}
