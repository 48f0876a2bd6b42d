/**
 * Reads an IVF stream (the container ffmpeg writes VP8 into) from a byte stream: a 32-byte file
 * header with the frame size, then frames of `size(4) | pts(8) | data`. Incremental: bytes can
 * arrive split anywhere, as they do from a pipe.
 */

export interface IvfHeader {
  fourcc: string;
  width: number;
  height: number;
}

export interface IvfFrame {
  data: Buffer;
  /** VP8 frame tag bit 0 is "not a keyframe" (RFC 6386 §9.1). */
  keyframe: boolean;
}

const FILE_HEADER_BYTES = 32;
const FRAME_HEADER_BYTES = 12;
/** A 4K VP8 keyframe at a high bitrate stays well below this; more means the stream is corrupt. */
const MAX_FRAME_BYTES = 16 * 1024 * 1024;

export class IvfReader {
  private pending: Buffer = Buffer.alloc(0);
  private header?: IvfHeader;

  private readonly onHeader: (header: IvfHeader) => void;
  private readonly onFrame: (frame: IvfFrame) => void;

  constructor(onHeader: (header: IvfHeader) => void, onFrame: (frame: IvfFrame) => void) {
    this.onHeader = onHeader;
    this.onFrame = onFrame;
  }

  /** Feeds bytes; throws on a stream that is not IVF, which the caller treats as an encoder failure. */
  push(chunk: Buffer): void {
    this.pending = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let offset = 0;
    if (!this.header) {
      if (this.pending.length < FILE_HEADER_BYTES) return;
      if (this.pending.toString("latin1", 0, 4) !== "DKIF") throw new Error("not an IVF stream");
      this.header = {
        fourcc: this.pending.toString("latin1", 8, 12),
        width: this.pending.readUInt16LE(12),
        height: this.pending.readUInt16LE(14),
      };
      offset = this.pending.readUInt16LE(6) || FILE_HEADER_BYTES;
      this.onHeader(this.header);
    }
    while (this.pending.length - offset >= FRAME_HEADER_BYTES) {
      const size = this.pending.readUInt32LE(offset);
      if (size > MAX_FRAME_BYTES) throw new Error(`IVF frame of ${size} bytes: the stream is corrupt`);
      if (this.pending.length - offset - FRAME_HEADER_BYTES < size) break;
      const start = offset + FRAME_HEADER_BYTES;
      const data = this.pending.subarray(start, start + size);
      offset = start + size;
      if (size > 0) this.onFrame({ data, keyframe: (data[0]! & 0x01) === 0 });
    }
    // Copy the remainder, so the (large) chunk it came from is not kept alive by a small tail.
    this.pending =
      offset === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(offset));
  }
}
