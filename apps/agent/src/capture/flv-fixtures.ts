/** Test support: FLV streams and H.264 access units built by hand, for the readers' edge cases. */
import { FLV_TAG_TYPE } from "./flv-reader.ts";

/** "FLV", version 1, video only, 9-byte header, then the first (zero) previous tag size. */
export function flvHeader(): Buffer {
  return Buffer.from([0x46, 0x4c, 0x56, 0x01, 0x01, 0, 0, 0, 9, 0, 0, 0, 0]);
}

/** One tag and the size field that follows it; `trailingSize` defaults to the right one. */
export function flvTag(type: number, data: Buffer, trailingSize = 11 + data.length): Buffer {
  const header = Buffer.alloc(11);
  header[0] = type;
  header.writeUIntBE(data.length, 1, 3);
  const trailer = Buffer.alloc(4);
  trailer.writeUInt32BE(trailingSize);
  return Buffer.concat([header, data, trailer]);
}

/** An AVC video tag: frame type 1 (key) or 2, codec 7, the AVC packet type, composition time 0. */
export function avcTag(packetType: number, body: Buffer, key = false): Buffer {
  return flvTag(FLV_TAG_TYPE.video, Buffer.concat([Buffer.of(key ? 0x17 : 0x27, packetType, 0, 0, 0), body]));
}

/** NAL units, each after its 4-byte size: an access unit as EncodedFrame holds it. */
export function lengthPrefixed(nals: Buffer[]): Buffer {
  return Buffer.concat(
    nals.flatMap((nal) => {
      const size = Buffer.alloc(4);
      size.writeUInt32BE(nal.length);
      return [size, nal];
    }),
  );
}

/** Feeds `stream` to `push` in pieces of the given sizes (the last repeats to the end). */
export function pushInPieces(stream: Buffer, sizes: number[], push: (chunk: Buffer) => void) {
  let offset = 0;
  for (let i = 0; offset < stream.length; i++) {
    const size = sizes[Math.min(i, sizes.length - 1)]!;
    push(stream.subarray(offset, offset + size));
    offset += size;
  }
}
