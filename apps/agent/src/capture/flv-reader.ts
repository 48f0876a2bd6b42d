/**
 * Reads FLV tags (Adobe FLV spec v10.1, Annex E) from a byte stream: a 9-byte file header, then
 * `previous tag size(4) | tag header(11) | data`. Each tag says how long it is, so a tag is handed
 * on the moment its last byte arrives. Incremental: bytes can arrive split anywhere.
 */

export const FLV_TAG_TYPE = { audio: 8, video: 9, script: 18 } as const;

/** A tag's type and body; its timestamp is not needed, since frames are stamped as they arrive. */
export interface FlvTag {
  type: number;
  data: Buffer;
}

const SIGNATURE = "FLV";
const MIN_FILE_HEADER_BYTES = 9;
const PREVIOUS_TAG_SIZE_BYTES = 4;
const TAG_HEADER_BYTES = 11;
/** Bit 5 of the tag type marks an encrypted ("filtered") tag, which ffmpeg never writes. */
const FILTER_BIT = 0x20;

export class FlvReader {
  private pending: Buffer = Buffer.alloc(0);
  private headerRead = false;
  private readonly onTag: (tag: FlvTag) => void;

  constructor(onTag: (tag: FlvTag) => void) {
    this.onTag = onTag;
  }

  /** Feeds bytes; throws on a stream that is not FLV, which the caller treats as an encoder failure. */
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    if (!this.headerRead) {
      if (this.pending.length < MIN_FILE_HEADER_BYTES) return;
      if (this.pending.toString("latin1", 0, 3) !== SIGNATURE) throw new Error("not an FLV stream");
      const headerBytes = this.pending.readUInt32BE(5);
      if (this.pending.length < headerBytes + PREVIOUS_TAG_SIZE_BYTES) return;
      // The first "previous tag size" (always 0) is skipped with the header; each tag's own comes after it.
      offset = headerBytes + PREVIOUS_TAG_SIZE_BYTES;
      this.headerRead = true;
    }
    while (this.pending.length - offset >= TAG_HEADER_BYTES) {
      const size = this.pending.readUIntBE(offset + 1, 3);
      const end = offset + TAG_HEADER_BYTES + size;
      if (this.pending.length < end + PREVIOUS_TAG_SIZE_BYTES) break;
      const typeByte = this.pending[offset]!;
      if (typeByte & FILTER_BIT) throw new Error("an encrypted FLV tag");
      if (this.pending.readUInt32BE(end) !== TAG_HEADER_BYTES + size) {
        throw new Error("an FLV tag's trailing size does not match its header: the stream is corrupt");
      }
      this.onTag({ type: typeByte & 0x1f, data: this.pending.subarray(offset + TAG_HEADER_BYTES, end) });
      offset = end + PREVIOUS_TAG_SIZE_BYTES;
    }
    // Copy the remainder, so the (large) chunk it came from is not kept alive by a small tail.
    this.pending =
      offset === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(offset));
  }
}
