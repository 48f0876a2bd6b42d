/**
 * ISO base media file format (ISO/IEC 14496-12) box framing: a box is a 32-bit big-endian size,
 * a four-character type and its payload; a full box adds a version byte and 24 bits of flags
 * (§4.2). Field writers return big-endian bytes, so a box reads like its syntax table.
 */

export type Bytes = Uint8Array;

/** A box of `type` around `payload`, its size counting the 8-byte header. */
export function box(type: string, ...payload: Bytes[]): Bytes {
  return concat([u32(8 + byteLength(payload)), fourcc(type), ...payload]);
}

/** A FullBox (§4.2): `version` (8 bits) and `flags` (24 bits) before the payload. */
export function fullBox(type: string, version: number, flags: number, ...payload: Bytes[]): Bytes {
  return box(type, u8(version), u24(flags), ...payload);
}

export function u8(value: number): Bytes {
  return Uint8Array.of(value);
}

export function u16(value: number): Bytes {
  return Uint8Array.of(value >>> 8, value);
}

export function i16(value: number): Bytes {
  return u16(value & 0xffff);
}

export function u24(value: number): Bytes {
  return Uint8Array.of(value >>> 16, value >>> 8, value);
}

export function u32(value: number): Bytes {
  if (!Number.isInteger(value) || value < 0 || value > 0xffffffff)
    throw new RangeError(`${value} is not a u32`);
  const bytes = new Uint8Array(4);
  new DataView(bytes.buffer).setUint32(0, value);
  return bytes;
}

/** Times past 2^32 ticks (49 days of milliseconds) need the 64-bit fields of version 1 boxes. */
export function u64(value: number): Bytes {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${value} is not a u64`);
  const bytes = new Uint8Array(8);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(value));
  return bytes;
}

export function zeros(count: number): Bytes {
  return new Uint8Array(count);
}

/** A four-character code; box types and brands are ASCII by definition. */
export function fourcc(code: string): Bytes {
  if (!/^[\x20-\x7e]{4}$/.test(code)) throw new RangeError(`"${code}" is not a four-character code`);
  return Uint8Array.from(code, (c) => c.charCodeAt(0));
}

export function concat(parts: Bytes[]): Bytes {
  const out = new Uint8Array(byteLength(parts));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function byteLength(parts: Bytes[]): number {
  return parts.reduce((sum, part) => sum + part.length, 0);
}
