/**
 * Just enough ISO BMFF (ISO/IEC 14496-12) for the replay player: read the codec string (RFC 6381) a
 * MediaSource needs from the sample entry in a segment's moov. (Splitting a segment into its init
 * and media parts is @rd/recording/segment-parts, next to the writer.)
 */

export interface Box {
  type: string;
  /** Offset of the box's header in the buffer. */
  start: number;
  /** Offset of the box's content (after size, type and any 64-bit size). */
  contentStart: number;
  /** Offset just past the box. */
  end: number;
}

const fourcc = (bytes: Uint8Array, at: number) => String.fromCharCode(...bytes.subarray(at, at + 4));

/** The boxes laid end to end in `bytes[start, end)`; stops at the first malformed one. */
export function boxes(bytes: Uint8Array, start = 0, end = bytes.byteLength): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found: Box[] = [];
  let at = start;
  while (at + 8 <= end) {
    let size = view.getUint32(at);
    const type = fourcc(bytes, at + 4);
    let header = 8;
    if (size === 1) {
      if (at + 16 > end) break;
      size = Number(view.getBigUint64(at + 8));
      header = 16;
    } else if (size === 0) size = end - at; // to the end of the enclosing space (§4.2)
    if (size < header || at + size > end) break;
    found.push({ type, start: at, contentStart: at + header, end: at + size });
    at += size;
  }
  return found;
}

/** The first box along `path` (types from the outside in), or null. */
export function findBox(bytes: Uint8Array, path: readonly string[], within?: Box): Box | null {
  let scope: Box | undefined = within;
  for (const type of path) {
    const next = boxes(bytes, scope?.contentStart ?? 0, scope?.end ?? bytes.byteLength).find(
      (b) => b.type === type,
    );
    if (!next) return null;
    scope = next;
  }
  return scope ?? null;
}

/** A visual sample entry's fixed fields before its child boxes (§12.1.3: 8 + 70 bytes). */
const VISUAL_SAMPLE_ENTRY_BYTES = 78;
/** stsd is a full box with an entry count before its entries (§8.5.2). */
const STSD_HEADER_BYTES = 8;

const hex2 = (n: number) => n.toString(16).padStart(2, "0");
const dec2 = (n: number) => String(n).padStart(2, "0");

/** VP9-style levels (the VP codec ISO-BMFF binding, §"Codecs Parameter String"); others read as 1.0. */
const VP_LEVELS = new Set([10, 11, 20, 21, 30, 31, 40, 41, 50, 51, 52, 60, 61, 62]);

/**
 * The RFC 6381 codec string of the first video track's sample entry: `avc1.PPCCLL` (or avc3) from
 * avcC's profile, constraint flags and level; `vp08.PP.LL.DD` from vpcC. Null when it cannot be read.
 */
export function codecString(bytes: Uint8Array): string | null {
  const stsd = findBox(bytes, ["moov", "trak", "mdia", "minf", "stbl", "stsd"]);
  if (!stsd) return null;
  const [entry] = boxes(bytes, stsd.contentStart + STSD_HEADER_BYTES, stsd.end);
  if (!entry) return null;
  const children = boxes(bytes, entry.contentStart + VISUAL_SAMPLE_ENTRY_BYTES, entry.end);
  if (entry.type === "avc1" || entry.type === "avc3") {
    const avcC = children.find((b) => b.type === "avcC");
    if (!avcC || avcC.end - avcC.contentStart < 4) return null;
    const at = avcC.contentStart;
    return `${entry.type}.${hex2(bytes[at + 1]!)}${hex2(bytes[at + 2]!)}${hex2(bytes[at + 3]!)}`;
  }
  if (entry.type === "vp08" || entry.type === "vp09") {
    const vpcC = children.find((b) => b.type === "vpcC");
    // A full box: version and flags, then profile, level, and bit depth in the top 4 bits.
    if (!vpcC || vpcC.end - vpcC.contentStart < 7) return null;
    const at = vpcC.contentStart + 4;
    const level = VP_LEVELS.has(bytes[at + 1]!) ? bytes[at + 1]! : 10;
    return `${entry.type}.${dec2(bytes[at]!)}.${dec2(level)}.${dec2(bytes[at + 2]! >> 4 || 8)}`;
  }
  return null;
}

/** What to try when a segment's own codec string cannot be read, by the recording's codec. */
const FALLBACKS: Record<string, string[]> = {
  h264: ["avc1.42e01f", "avc1.4d401f", "avc1.64001f", "avc1.640028"],
  vp8: ["vp08.00.10.08", "vp8"],
};

/**
 * The MIME types to offer MediaSource for a recording, best first: the one read from its first
 * segment, then common profiles of its codec (the first the browser supports wins).
 */
export function mimeCandidates(codec: string | null, firstSegment: Uint8Array | null): string[] {
  const read = firstSegment ? codecString(firstSegment) : null;
  const codecs = [...(read ? [read] : []), ...(FALLBACKS[codec ?? "h264"] ?? FALLBACKS.h264!)];
  return [...new Set(codecs)].map((c) => `video/mp4; codecs="${c}"`);
}
