/**
 * Test helper: reads back the boxes fmp4.ts writes — the top-level layout, the sample entry, and
 * the fragment's decode time and samples — so tests can check timing without a media tool.
 */

export interface Box {
  type: string;
  /** The payload, after the 8-byte header. */
  body: Uint8Array;
}

/** The boxes laid one after another in `bytes`. */
export function readBoxes(bytes: Uint8Array): Box[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const boxes: Box[] = [];
  for (let offset = 0; offset < bytes.length;) {
    const size = view.getUint32(offset);
    if (size < 8 || offset + size > bytes.length) throw new Error(`a box of ${size} bytes at ${offset}`);
    boxes.push({
      type: String.fromCharCode(...bytes.subarray(offset + 4, offset + 8)),
      body: bytes.subarray(offset + 8, offset + size),
    });
    offset += size;
  }
  return boxes;
}

/** The box at `path` (types from the top), e.g. ["moof", "traf", "trun"]. */
export function findBox(bytes: Uint8Array, path: string[]): Box {
  let boxes = readBoxes(bytes);
  for (let depth = 0; ; depth++) {
    const found = boxes.find((b) => b.type === path[depth]);
    if (!found) throw new Error(`no ${path.join("/")} box`);
    if (depth === path.length - 1) return found;
    boxes = readBoxes(found.body);
  }
}

export interface ReadSample {
  duration: number;
  size: number;
  keyframe: boolean;
}

/** The fragment's sequence number, decode time and samples, as mfhd, tfdt and trun state them. */
export function readFragment(segment: Uint8Array): {
  sequenceNumber: number;
  baseDecodeTime: number;
  samples: ReadSample[];
} {
  const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset, b.byteLength).getUint32(at);
  const mfhd = findBox(segment, ["moof", "mfhd"]).body;
  const tfdt = findBox(segment, ["moof", "traf", "tfdt"]).body;
  const trun = findBox(segment, ["moof", "traf", "trun"]).body;
  const count = u32(trun, 4);
  const samples: ReadSample[] = [];
  // version/flags (4), sample_count (4), data_offset (4), then duration, size, flags per sample.
  for (let i = 0; i < count; i++) {
    const at = 12 + i * 12;
    samples.push({
      duration: u32(trun, at),
      size: u32(trun, at + 4),
      keyframe: (u32(trun, at + 8) & 0x10000) === 0,
    });
  }
  const baseDecodeTime = Number(new DataView(tfdt.buffer, tfdt.byteOffset).getBigUint64(4));
  return { sequenceNumber: u32(mfhd, 4), baseDecodeTime, samples };
}
