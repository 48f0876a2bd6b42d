/**
 * Splits a stored segment (ftyp + moov + moof + mdat, see fmp4.ts) into its init part and its
 * media part, for a player that appends a recording to one MSE SourceBuffer.
 *
 * Why a player needs this: Chromium treats every appended init part as a new start and drops the
 * frames after it up to the next keyframe, so a segment that starts with a delta frame (a maxMs
 * cut) loses those frames when appended whole. Appending the init part only when it differs from
 * the last one appended keeps them.
 *
 * Web-standard code only (no Node APIs), so the replay page can import it
 * (`@rd/recording/segment-parts`).
 */

export interface SegmentParts {
  /** ftyp + moov. */
  init: Uint8Array;
  /** moof + mdat. */
  media: Uint8Array;
}

export function splitSegment(segment: Uint8Array): SegmentParts {
  const view = new DataView(segment.buffer, segment.byteOffset, segment.byteLength);
  let offset = 0;
  while (offset + 8 <= segment.length) {
    const size = view.getUint32(offset);
    const type = String.fromCharCode(...segment.subarray(offset + 4, offset + 8));
    if (type === "moof") {
      if (offset === 0) break;
      return { init: segment.subarray(0, offset), media: segment.subarray(offset) };
    }
    // Our writer never uses 64-bit (size 1) or to-the-end (size 0) box sizes.
    if (size < 8 || offset + size > segment.length) break;
    offset += size;
  }
  throw new Error("not a recording segment: no init part followed by a moof box");
}

/** Whether two init parts are byte for byte the same (then the second need not be appended). */
export function sameInit(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
