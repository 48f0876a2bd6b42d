/**
 * The screen as tiles: how an agent sends a text-like screen's changes the way VNC does, as
 * rectangles moved within the picture (a terminal's scroll) and few-colour rectangles sent as
 * palette indices, which costs a fraction of video on text (`npm run bench:media`). This module owns
 * the wire format and decodes it, for the viewer and for tests; the agent's encoder is
 * apps/agent/src/capture/tiles/tile-encoder.ts. Compression is the transport's (each update is
 * one raw-deflate blob), not the format's: indices and palettes are laid out so that deflate finds
 * the repeats; glyphs name the repeats deflate cannot see.
 *
 * An update is a header, then operations applied in order to the receiver's picture of the screen.
 * All numbers are little-endian; colours are 3 bytes, red first.
 *
 *     header   u8 version (1), u16 width, u16 height
 *     COPY     u8 1, u16 srcX srcY x y w h   a rectangle moved within the picture, read as it was
 *                                            before this operation (so overlapping moves work)
 *     FILL     u8 2, u16 x y w h, colour
 *     PALETTE  u8 3, u16 x y w h, u8 count − 1, count colours, then h rows of w indices of
 *              1, 2, 4 or 8 bits (count ≤ 2, 4, 16, 256), most significant bits first, each row
 *              starting on a byte
 *     RAW      u8 4, u16 x y w h, w × h colours, row by row
 *     GLYPHS   u8 5, u16 x y w h, colour background, u8 inks, that many colours, then u16 lines,
 *              each: u16 top (from y), u16 height, u16 glyphs, each glyph:
 *                u16 gap (columns from the line's last glyph's right edge, or from x), u16 index,
 *                u8 ink (1 .. inks: the glyph's one colour; 0: a glyph with colours of its own);
 *                an index one past the last glyph defined so far in this update defines a new
 *                one: u16 width, u8 own colours k, then for k = 0 its width × height mask bits
 *                (set: drawn in the ink), for k > 0 k colours and width × height indices of 1,
 *                2, 4 or 8 bits (k + 1 ≤ 2, 4, 16, 256; 0: the background), both row by row, most
 *                significant bits first, padded to a byte at the end
 *              The rectangle is the background where no glyph draws. (Version 2.)
 *
 * A header whose size differs from the receiver's picture starts a new picture of that size (black):
 * the first update a receiver gets, and any after the screen was resized, covers the whole screen.
 */

/**
 * 2 added GLYPHS: text sent as the shapes its lines are made of, each shape once per update and
 * then named wherever it recurs (the way JBIG2 codes scanned text), about half the bytes of a
 * two-colour palette once deflated on a busy terminal. Receivers read 1 and 2.
 */
export const TILES_VERSION = 2;
const READABLE_VERSIONS = new Set([1, 2]);

/**
 * Messages on the `screen` data channel (agent → viewer), told apart by their first byte. An update
 * is deflated (raw deflate, one blob per update) and cut into parts: `part`s, then its `last`, or
 * `whole` when the update is the whole picture (one a viewer can start from: after it switched to
 * video, it takes no other). `video`: the tiles stop here, the video track carries the picture from
 * now. `alive`: nothing changed for a second, and the stream is live.
 */
export const SCREEN_MESSAGES = { part: 1, last: 2, video: 3, alive: 4, whole: 5 } as const;
/** A part's payload: well under what every browser's SCTP takes in one message. */
export const SCREEN_PART_BYTES = 16 * 1024;
/** A compressed update larger than this is refused unread (a 4K screen's raw pixels fit). */
export const MAX_SCREEN_UPDATE_BYTES = 64 * 1024 * 1024;

export const TILE_OPS = { copy: 1, fill: 2, palette: 3, raw: 4, glyphs: 5 } as const;
const OPS_OF_VERSION: Record<number, Set<number>> = {
  1: new Set([TILE_OPS.copy, TILE_OPS.fill, TILE_OPS.palette, TILE_OPS.raw]),
  2: new Set<number>(Object.values(TILE_OPS)),
};
/** A GLYPHS operation names at most this many inks (its one-colour glyphs' colours). */
export const MAX_GLYPH_INKS = 255;

/** Bits per index for a palette of `count` colours (2..256). */
export function paletteBits(count: number): 1 | 2 | 4 | 8 {
  return count <= 2 ? 1 : count <= 4 ? 2 : count <= 16 ? 4 : 8;
}

/** The receiver's picture: RGBA rows, as a canvas's ImageData holds them. */
export interface TilePicture {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
}

export interface TileRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A malformed update: it is dropped whole, and the receiver asks for a full one. */
export class TileFormatError extends Error {
  override name = "TileFormatError";
}

/** A black picture of the given size, opaque. */
export function blankPicture(width: number, height: number): TilePicture {
  const rgba = new Uint8ClampedArray(width * height * 4);
  new Uint32Array(rgba.buffer).fill(rgbaWord(0));
  return { width, height, rgba };
}

/**
 * Applies one update to `picture` (replaced by a new one when the update's screen size differs) and
 * returns the picture with the bounds of what changed, or no bounds when nothing did. A malformed
 * update throws TileFormatError; operations before the bad one may have been applied, so the
 * receiver must then ask for a full update.
 */
export function applyTileUpdate(
  picture: TilePicture | undefined,
  update: Uint8Array,
): { picture: TilePicture; changed?: TileRect } {
  const reader = new Reader(update);
  const version = reader.u8();
  if (!READABLE_VERSIONS.has(version))
    throw new TileFormatError(`tile update version ${version}, expected one of ${[...READABLE_VERSIONS]}`);
  const knownOps = OPS_OF_VERSION[version]!;
  const glyphs: Glyph[] = [];
  const width = reader.u16();
  const height = reader.u16();
  if (width === 0 || height === 0)
    throw new TileFormatError(`tile update for an empty screen (${width}×${height})`);
  let target = picture;
  let bounds: Bounds | undefined;
  if (!target || target.width !== width || target.height !== height) {
    target = blankPicture(width, height);
    bounds = { left: 0, top: 0, right: width, bottom: height };
  }
  while (!reader.done) {
    const op = reader.u8();
    if (!knownOps.has(op)) throw new TileFormatError(`unknown tile operation ${op} at byte ${reader.at - 1}`);
    const rect = op === TILE_OPS.copy ? undefined : reader.rect(target);
    switch (op) {
      case TILE_OPS.copy: {
        const srcX = reader.u16();
        const srcY = reader.u16();
        const to = reader.rect(target);
        inside(target, { ...to, x: srcX, y: srcY });
        copy(target, srcX, srcY, to);
        bounds = grow(bounds, to);
        break;
      }
      case TILE_OPS.fill:
        fill(target, rect!, reader.colour());
        bounds = grow(bounds, rect!);
        break;
      case TILE_OPS.palette:
        drawPalette(target, rect!, reader);
        bounds = grow(bounds, rect!);
        break;
      case TILE_OPS.raw:
        drawRaw(target, rect!, reader);
        bounds = grow(bounds, rect!);
        break;
      case TILE_OPS.glyphs:
        drawGlyphs(target, rect!, reader, glyphs);
        bounds = grow(bounds, rect!);
        break;
    }
  }
  const changed = bounds && {
    x: bounds.left,
    y: bounds.top,
    width: bounds.right - bounds.left,
    height: bounds.bottom - bounds.top,
  };
  return { picture: target, changed };
}

interface Bounds {
  left: number;
  top: number;
  right: number;
  bottom: number;
}

function grow(bounds: Bounds | undefined, rect: TileRect): Bounds {
  const right = rect.x + rect.width;
  const bottom = rect.y + rect.height;
  if (!bounds) return { left: rect.x, top: rect.y, right, bottom };
  return {
    left: Math.min(bounds.left, rect.x),
    top: Math.min(bounds.top, rect.y),
    right: Math.max(bounds.right, right),
    bottom: Math.max(bounds.bottom, bottom),
  };
}

function inside(picture: TilePicture, rect: TileRect): void {
  if (
    rect.width === 0 ||
    rect.height === 0 ||
    rect.x + rect.width > picture.width ||
    rect.y + rect.height > picture.height
  )
    throw new TileFormatError(
      `tile rectangle ${rect.width}×${rect.height} at ${rect.x},${rect.y} is empty or outside the ${picture.width}×${picture.height} screen`,
    );
}

/** Rows in the order that reads each source row before it is overwritten. */
function copy(picture: TilePicture, srcX: number, srcY: number, to: TileRect): void {
  const stride = picture.width * 4;
  const down = to.y > srcY;
  for (let i = 0; i < to.height; i++) {
    const row = down ? to.height - 1 - i : i;
    const from = (srcY + row) * stride + srcX * 4;
    picture.rgba.copyWithin((to.y + row) * stride + to.x * 4, from, from + to.width * 4);
  }
}

function fill(picture: TilePicture, rect: TileRect, colour: number): void {
  const pixels = new Uint32Array(
    picture.rgba.buffer,
    picture.rgba.byteOffset,
    picture.width * picture.height,
  );
  const value = rgbaWord(colour);
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    const start = y * picture.width + rect.x;
    pixels.fill(value, start, start + rect.width);
  }
}

function drawPalette(picture: TilePicture, rect: TileRect, reader: Reader): void {
  const count = reader.u8() + 1;
  if (count < 2) throw new TileFormatError("a palette of one colour (that is a fill)");
  const colours = new Uint32Array(count);
  for (let i = 0; i < count; i++) colours[i] = rgbaWord(reader.colour());
  const bits = paletteBits(count);
  const perByte = 8 / bits;
  const mask = (1 << bits) - 1;
  const rowBytes = Math.ceil(rect.width / perByte);
  const indices = reader.bytes(rowBytes * rect.height);
  const pixels = new Uint32Array(
    picture.rgba.buffer,
    picture.rgba.byteOffset,
    picture.width * picture.height,
  );
  for (let row = 0; row < rect.height; row++) {
    let at = (rect.y + row) * picture.width + rect.x;
    const rowStart = row * rowBytes;
    for (let col = 0; col < rect.width; col++) {
      const byte = indices[rowStart + Math.floor(col / perByte)]!;
      const shift = 8 - bits * ((col % perByte) + 1);
      const index = (byte >> shift) & mask;
      if (index >= count) throw new TileFormatError(`palette index ${index} of ${count} colours`);
      pixels[at++] = colours[index]!;
    }
  }
}

function drawRaw(picture: TilePicture, rect: TileRect, reader: Reader): void {
  const bytes = reader.bytes(rect.width * rect.height * 3);
  const rgba = picture.rgba;
  let from = 0;
  for (let row = 0; row < rect.height; row++) {
    let at = ((rect.y + row) * picture.width + rect.x) * 4;
    for (let col = 0; col < rect.width; col++) {
      rgba[at] = bytes[from]!;
      rgba[at + 1] = bytes[from + 1]!;
      rgba[at + 2] = bytes[from + 2]!;
      rgba[at + 3] = 255;
      at += 4;
      from += 3;
    }
  }
}

/**
 * A glyph defined by an update: `height` rows of `width` pixels, most significant bits first. One
 * colour (`colours` undefined): `bits` are its mask, one bit a pixel. Its own colours: `bits` are
 * indices of `bitsPerPixel` into them, 0 the background.
 */
interface Glyph {
  width: number;
  height: number;
  bits: Uint8Array;
  colours?: Uint32Array;
  bitsPerPixel: 1 | 2 | 4 | 8;
}

function drawGlyphs(picture: TilePicture, rect: TileRect, reader: Reader, glyphs: Glyph[]): void {
  const background = rgbaWord(reader.colour());
  const inkCount = reader.u8();
  // Each ink as a one-colour glyph's colours (0 is the background, never drawn).
  const inks: Uint32Array[] = [];
  for (let i = 1; i <= inkCount; i++) inks[i] = Uint32Array.of(0, rgbaWord(reader.colour()));
  const pixels = new Uint32Array(
    picture.rgba.buffer,
    picture.rgba.byteOffset,
    picture.width * picture.height,
  );
  for (let y = rect.y; y < rect.y + rect.height; y++) {
    const start = y * picture.width + rect.x;
    pixels.fill(background, start, start + rect.width);
  }
  const lines = reader.u16();
  for (let line = 0; line < lines; line++) {
    const top = reader.u16();
    const height = reader.u16();
    if (height === 0 || top + height > rect.height)
      throw new TileFormatError(
        `a glyph line of ${height} rows at ${top} outside its ${rect.height}-row rectangle`,
      );
    const placed = reader.u16();
    let x = 0;
    for (let i = 0; i < placed; i++) {
      x += reader.u16();
      const index = reader.u16();
      const ink = reader.u8();
      if (ink > inkCount) throw new TileFormatError(`glyph ink ${ink} of ${inkCount}`);
      if (index > glyphs.length)
        throw new TileFormatError(`glyph ${index} used before glyph ${glyphs.length} was defined`);
      if (index === glyphs.length) glyphs.push(readGlyph(reader, height));
      const glyph = glyphs[index]!;
      if (glyph.height !== height)
        throw new TileFormatError(`glyph ${index} is ${glyph.height} rows high, its line ${height}`);
      if (x + glyph.width > rect.width)
        throw new TileFormatError(
          `glyph ${index} at column ${x} overruns its ${rect.width}-column rectangle`,
        );
      if ((ink === 0) !== (glyph.colours !== undefined))
        throw new TileFormatError(
          ink === 0 ? `glyph ${index} has one colour: it needs an ink` : `glyph ${index} has its own colours`,
        );
      const colours = glyph.colours ?? inks[ink]!;
      const bits = glyph.bitsPerPixel;
      const mask = (1 << bits) - 1;
      let at = 0;
      for (let row = 0; row < height; row++) {
        const start = (rect.y + top + row) * picture.width + rect.x + x;
        for (let col = 0; col < glyph.width; col++, at += bits) {
          const value = (glyph.bits[at >> 3]! >> (8 - bits - (at & 7))) & mask;
          if (value === 0) continue;
          if (value >= colours.length)
            throw new TileFormatError(`glyph ${index}'s colour ${value} of ${colours.length - 1}`);
          pixels[start + col] = colours[value]!;
        }
      }
      x += glyph.width;
    }
  }
}

/** A new glyph's definition, for a line `height` rows high. */
function readGlyph(reader: Reader, height: number): Glyph {
  const width = reader.u16();
  if (width === 0) throw new TileFormatError("a glyph no column wide");
  const own = reader.u8();
  if (own === 0)
    return { width, height, bits: reader.bytes(Math.ceil((width * height) / 8)), bitsPerPixel: 1 };
  const colours = new Uint32Array(own + 1);
  for (let i = 1; i <= own; i++) colours[i] = rgbaWord(reader.colour());
  const bitsPerPixel = paletteBits(own + 1);
  return {
    width,
    height,
    colours,
    bitsPerPixel,
    bits: reader.bytes(Math.ceil((width * height * bitsPerPixel) / 8)),
  };
}

/** A colour (0xRRGGBB) as an opaque RGBA pixel read as one little-endian word. */
function rgbaWord(colour: number): number {
  const r = colour >>> 16;
  const g = (colour >>> 8) & 0xff;
  const b = colour & 0xff;
  return ((0xff << 24) | (b << 16) | (g << 8) | r) >>> 0;
}

class Reader {
  at = 0;
  private readonly data: Uint8Array;

  constructor(data: Uint8Array) {
    this.data = data;
  }

  get done(): boolean {
    return this.at >= this.data.length;
  }

  private need(count: number): void {
    if (this.at + count > this.data.length)
      throw new TileFormatError(`tile update ends at byte ${this.data.length}, inside an operation`);
  }

  u8(): number {
    this.need(1);
    return this.data[this.at++]!;
  }

  u16(): number {
    this.need(2);
    const value = this.data[this.at]! | (this.data[this.at + 1]! << 8);
    this.at += 2;
    return value;
  }

  /** 0xRRGGBB */
  colour(): number {
    this.need(3);
    const value = (this.data[this.at]! << 16) | (this.data[this.at + 1]! << 8) | this.data[this.at + 2]!;
    this.at += 3;
    return value;
  }

  bytes(count: number): Uint8Array {
    this.need(count);
    const slice = this.data.subarray(this.at, this.at + count);
    this.at += count;
    return slice;
  }

  /** A rectangle that must lie inside the picture. */
  rect(picture: TilePicture): TileRect {
    const rect = { x: this.u16(), y: this.u16(), width: this.u16(), height: this.u16() };
    inside(picture, rect);
    return rect;
  }
}
