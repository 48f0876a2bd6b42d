/**
 * H.264 access units in the Annex B byte stream format (ITU-T H.264 Annex B: NAL units behind
 * 00 00 01 start codes), as the recorder's RTP depacketizer hands them over, split into NAL units.
 */

/** The NAL unit types the recording looks at (ITU-T H.264 Table 7-1). */
export const NAL_TYPE = {
  idrSlice: 5,
  sps: 7,
  pps: 8,
  accessUnitDelimiter: 9,
} as const;

export function nalType(nal: Uint8Array): number {
  return nal[0]! & 0x1f;
}

/**
 * The NAL units of an Annex B access unit, without start codes. Throws when the bytes do not start
 * with a start code (a length-prefixed or truncated unit), so a wrong input format fails loudly
 * instead of turning into garbage samples.
 */
export function splitAnnexB(accessUnit: Uint8Array): Uint8Array[] {
  const starts: number[] = []; // index of the first byte after each start code
  for (let i = 0; i + 2 < accessUnit.length; i++) {
    if (accessUnit[i] === 0 && accessUnit[i + 1] === 0 && accessUnit[i + 2] === 1) {
      starts.push(i + 3);
      i += 2;
    }
  }
  const first = starts[0];
  // Only zero bytes may come before the first start code (leading_zero_8bits, Annex B.2).
  if (first === undefined || accessUnit.subarray(0, first - 3).some((byte) => byte !== 0)) {
    throw new Error("an H.264 access unit without an Annex B start code");
  }
  const units: Uint8Array[] = [];
  for (let k = 0; k < starts.length; k++) {
    const begin = starts[k]!;
    let end = k + 1 < starts.length ? starts[k + 1]! - 3 : accessUnit.length;
    // A NAL unit never ends in a zero byte (§7.4.1), so zeros before the next start code are
    // trailing_zero_8bits or the first byte of a 4-byte start code.
    while (end > begin && accessUnit[end - 1] === 0) end--;
    if (end > begin) units.push(accessUnit.subarray(begin, end));
  }
  return units;
}
