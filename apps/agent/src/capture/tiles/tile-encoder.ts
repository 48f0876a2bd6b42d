/**
 * Encodes a screen's changes as tile updates (@rd/protocol screen-tiles.ts), the way VNC codes text:
 * it keeps the picture its receivers have, finds what differs from the new screen, sends a
 * terminal's scroll as one rectangle moved within that picture, and the rest as 64-pixel tiles cut
 * down to what changed in them, each one colour, glyphs, a palette of up to 256, or raw.
 *
 * Glyphs: a tile is cut into its lines (runs of rows with anything but the background) and each
 * line into shapes (runs of columns with anything but the background), the glyphs of text. Each
 * shape is sent once per update and named wherever it recurs: a busy terminal's update deflates to
 * about half of its one-bit palette (a character's pixels repeat; deflate cannot see it in rows of
 * packed bits). A shape of one colour is named with its colour, so the same character in another
 * colour is the same glyph; an anti-aliased one carries its own colours. A tile whose shapes would
 * cost more than its palette (no text) keeps the palette.
 *
 * A scroll is found by hashing the rows of the changed band before and after and letting the rows
 * that are unique vote for how far they moved; the winning shift is then checked row by row against
 * the picture, so a wrong guess costs tiles, never a wrong picture.
 */
import { MAX_GLYPH_INKS, paletteBits, TILE_OPS, TILES_VERSION } from "@rd/protocol";
import type { RowSpan } from "../x11/changed-rows.ts";
import type { RawPixelFormat } from "../x11/x-screen-reader.ts";

/** Tile side: small enough that a change costs little more than itself, large enough to be few. */
const TILE = 64;
/** A shift needs this many unique rows agreeing, so two equal lines of text do not make a scroll. */
const MIN_SCROLL_VOTES = 4;
/** Moved runs shorter than this are left to the tiles: a COPY would cost more than it saves. */
const MIN_MOVED_ROWS = 2;
const MAX_PALETTE = 256;
/**
 * Glyphs are tried only where one colour covers this share of a rectangle: text on its background
 * does (a dense terminal ~70 %), a gradient or a photograph does not, and trying them there made
 * a wallpapered desktop's whole picture take 53 ms to encode instead of 13.
 */
const TEXT_BACKGROUND_SHARE = 0.5;
/** changedBand() first compares this many rows at once. */
const BLOCK_ROWS = 16;

/** What the last update was made of, for whoever decides whether tiles suit the screen. */
export interface TileUpdateStats {
  copies: number;
  fills: number;
  palettes: number;
  raws: number;
  /** Rectangles sent as glyphs. */
  glyphRects: number;
  /** Pixels sent as raw colours: a screen with many is better sent as video. */
  rawPixels: number;
  bytes: number;
}

export class TileEncoder {
  readonly pixelFormat: RawPixelFormat;
  private readonly toRgb: (pixel: number) => number;
  private reference?: Buffer;
  /** forget() was called: the reference is only memory to reuse, not a picture anyone has. */
  private forgotten = false;
  /** The reference's pixels, and the screen being encoded's (set for the length of encode()). */
  private referencePixels: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private pixels: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  private width = 0;
  private height = 0;
  private readonly out = new Writer();
  private stats: TileUpdateStats = emptyStats();
  private readonly glyphs: GlyphCoder;
  private readonly useGlyphs: boolean;
  /** Pixels of each colour in the rectangle palette() read last. */
  private readonly counts = new Uint32Array(MAX_PALETTE);

  /** `glyphs: false` codes text as palettes only (for comparison). */
  constructor(pixelFormat: RawPixelFormat, options: { glyphs?: boolean } = {}) {
    this.pixelFormat = pixelFormat;
    this.useGlyphs = options.glyphs ?? true;
    this.toRgb = pixelFormat === "bgr0" ? (p) => p & 0xffffff : (p) => swapRedBlue(p);
    this.glyphs = new GlyphCoder(this.toRgb);
  }

  get lastStats(): TileUpdateStats {
    return this.stats;
  }

  /**
   * The update that turns the receivers' picture into `screen` (rows of `width` 4-byte pixels), or
   * undefined when nothing changed. The first screen, and one of a new size, is sent whole.
   * `rows`: only these rows can differ from the picture (the capture knows what it read since the
   * picture's screen), so the rest is not compared.
   */
  encode(screen: Buffer, width: number, height: number, rows?: RowSpan): Buffer | undefined {
    if (screen.length < width * height * 4)
      throw new Error(`a ${width}×${height} screen needs ${width * height * 4} bytes`);
    if (!this.reference || this.forgotten || width !== this.width || height !== this.height) {
      // A forgotten picture's memory is written over: whole() copies every rectangle into it.
      const kept = this.reference?.length === width * height * 4 ? this.reference : undefined;
      this.forgotten = false;
      this.setPicture(kept ?? Buffer.allocUnsafe(width * height * 4), width, height);
      return this.whole(screen);
    }
    this.pixels = pixelsOf(screen, width * height);
    const band = this.changedBand(screen, rows ?? { top: 0, bottom: height });
    if (!band) return undefined;
    this.begin();
    this.scroll(screen, band);
    this.tiles(screen, band, false);
    return this.finish();
  }

  /** The whole current picture, for a receiver that joins (or lost its picture); undefined before the first screen. */
  full(): Buffer | undefined {
    if (this.forgotten) return undefined;
    // Read from the reference itself: each rectangle is copied onto itself.
    return this.reference && this.whole(this.reference);
  }

  /**
   * Forgets the picture: the next screen is sent whole, as by a new encoder. The picture's memory
   * is kept for it: filling a fresh 3.7 MB buffer (720p) takes ~10 ms of page faults on this VM,
   * at every session's start, against ~0.3 ms for one already touched (measured alone).
   */
  forget(): void {
    this.forgotten = true;
  }

  /**
   * Makes this encoder's picture a copy of `other`'s: for a receiver that stops taking `other`'s
   * updates (it fell behind), so that it can later be sent only the difference (updateTo()).
   */
  copyPicture(other: TileEncoder): void {
    const source = other.forgotten ? undefined : other.reference;
    if (!source) return this.forget();
    this.forgotten = false;
    if (this.reference && this.width === other.width && this.height === other.height)
      source.copy(this.reference);
    else this.setPicture(Buffer.from(source), other.width, other.height);
  }

  /**
   * The update that turns this encoder's picture into `other`'s, or undefined when they are the
   * same: all that changed while its receiver was behind, as one update (a scroll as one COPY).
   */
  updateTo(other: TileEncoder): Buffer | undefined {
    if (other.forgotten || !other.reference) return undefined;
    return this.encode(other.reference, other.width, other.height);
  }

  private setPicture(reference: Buffer, width: number, height: number): void {
    this.width = width;
    this.height = height;
    this.reference = reference;
    this.referencePixels = new Uint32Array(reference.buffer, reference.byteOffset, width * height);
  }

  private whole(screen: Buffer): Buffer {
    this.pixels = pixelsOf(screen, this.width * this.height);
    this.begin();
    this.tiles(screen, { top: 0, bottom: this.height, left: 0, right: this.width }, true);
    return this.finish();
  }

  private begin(): void {
    this.stats = emptyStats();
    this.glyphs.reset();
    this.out.reset();
    this.out.u8(TILES_VERSION);
    this.out.u16(this.width);
    this.out.u16(this.height);
  }

  private finish(): Buffer {
    const update = this.out.take();
    this.stats.bytes = update.length;
    return update;
  }

  /** The rows and columns within `rows` that differ from the picture, or undefined when none do. */
  private changedBand(screen: Buffer, rows: RowSpan): Band | undefined {
    const reference = this.reference!;
    const stride = this.width * 4;
    const first = Math.max(0, rows.top);
    const last = Math.min(this.height, rows.bottom);
    let top = -1;
    let bottom = -1;
    let left = this.width;
    let right = 0;
    for (let y = first; y < last; y++) {
      const start = y * stride;
      // Unchanged rows are skipped a block at a time: one native call each costs more than the
      // compare itself.
      if ((y - first) % BLOCK_ROWS === 0) {
        const end = Math.min(last, y + BLOCK_ROWS) * stride;
        if (screen.compare(reference, start, end, start, end) === 0) {
          y += BLOCK_ROWS - 1;
          continue;
        }
      }
      if (screen.compare(reference, start, start + stride, start, start + stride) === 0) continue;
      if (top < 0) top = y;
      bottom = y + 1;
      // Most changed rows change within the columns found so far (a terminal's text): one native
      // compare of the rest of the row says so, where scanning it pixel by pixel was most of this.
      if (left > 0 && screen.compare(reference, start, start + left * 4, start, start + left * 4) !== 0)
        left = this.firstDifference(y, 0, left);
      const end = start + stride;
      if (
        right < this.width &&
        screen.compare(reference, start + right * 4, end, start + right * 4, end) !== 0
      )
        right = this.lastDifference(y, right, this.width);
    }
    return top < 0 ? undefined : { top, bottom, left, right };
  }

  /** The first column in [from, to) where row y differs, or `to`. */
  private firstDifference(y: number, from: number, to: number): number {
    const { pixels, referencePixels } = this;
    const row = y * this.width;
    for (let x = from; x < to; x++) if (pixels[row + x] !== referencePixels[row + x]) return x;
    return to;
  }

  /** One past the last column in [from, to) where row y differs, or `from`. */
  private lastDifference(y: number, from: number, to: number): number {
    const { pixels, referencePixels } = this;
    const row = y * this.width;
    for (let x = to - 1; x >= from; x--) if (pixels[row + x] !== referencePixels[row + x]) return x + 1;
    return from;
  }

  /** Finds the band's vertical scroll, sends its moved rows as COPYs and applies them to the picture. */
  private scroll(screen: Buffer, band: Band): void {
    const reference = this.reference!;
    const before = new Map<number, number>();
    for (let y = band.top; y < band.bottom; y++) {
      const hash = rowHash(this.referencePixels, this.width, y, band.left, band.right);
      // A row seen twice (a blank line) says nothing about where it went.
      before.set(hash, before.has(hash) ? -1 : y);
    }
    const votes = new Map<number, number>();
    for (let y = band.top; y < band.bottom; y++) {
      const from = before.get(rowHash(this.pixels, this.width, y, band.left, band.right));
      if (from === undefined || from < 0 || from === y) continue;
      votes.set(from - y, (votes.get(from - y) ?? 0) + 1);
    }
    let shift = 0;
    let most = MIN_SCROLL_VOTES - 1;
    for (const [dy, count] of votes) if (count > most) [shift, most] = [dy, count];
    if (shift === 0) return;

    const stride = this.width * 4;
    const rowBytes = (band.right - band.left) * 4;
    const matches = (y: number) => {
      const source = y + shift;
      if (source < 0 || source >= this.height) return false;
      const at = y * stride + band.left * 4;
      const from = source * stride + band.left * 4;
      return screen.compare(reference, from, from + rowBytes, at, at + rowBytes) === 0;
    };
    const runs: [number, number][] = [];
    for (let y = band.top; y < band.bottom;) {
      if (!matches(y)) {
        y++;
        continue;
      }
      const start = y;
      while (y < band.bottom && matches(y)) y++;
      if (y - start >= MIN_MOVED_ROWS) runs.push([start, y]);
    }
    // Every run reads the picture as it was before any of them: applied in the order that reads
    // each source row before another run overwrites it (upwards scroll: top first).
    if (shift < 0) runs.reverse();
    for (const [start, end] of runs) {
      this.out.u8(TILE_OPS.copy);
      this.out.u16(band.left);
      this.out.u16(start + shift);
      this.out.u16(band.left);
      this.out.u16(start);
      this.out.u16(band.right - band.left);
      this.out.u16(end - start);
      this.stats.copies++;
      for (let i = 0; i < end - start; i++) {
        const row = shift > 0 ? start + i : end - 1 - i;
        const from = (row + shift) * stride + band.left * 4;
        reference.copy(reference, row * stride + band.left * 4, from, from + rowBytes);
      }
    }
  }

  /** Sends the band's tiles that differ from the picture (all of them when `whole`), cut to their change. */
  private tiles(screen: Buffer, band: Band, whole: boolean): void {
    for (let tileY = Math.floor(band.top / TILE) * TILE; tileY < band.bottom; tileY += TILE) {
      for (let tileX = Math.floor(band.left / TILE) * TILE; tileX < band.right; tileX += TILE) {
        const tile = {
          left: tileX,
          top: tileY,
          right: Math.min(this.width, tileX + TILE),
          bottom: Math.min(this.height, tileY + TILE),
        };
        const changed = whole ? tile : this.changeIn(tile);
        if (changed) this.rect(screen, changed);
      }
    }
  }

  /** The part of a tile that differs from the picture, or undefined. */
  private changeIn(tile: Band): Band | undefined {
    const { pixels, referencePixels } = this;
    let top = -1;
    let bottom = -1;
    let left = tile.right;
    let right = tile.left;
    for (let y = tile.top; y < tile.bottom; y++) {
      const at = y * this.width;
      if (same(pixels, referencePixels, at + tile.left, at + tile.right)) continue;
      if (top < 0) top = y;
      bottom = y + 1;
      left = this.firstDifference(y, tile.left, left);
      right = this.lastDifference(y, right, tile.right);
    }
    return top < 0 ? undefined : { top, bottom, left, right };
  }

  /** Codes one rectangle as a fill, glyphs, a palette or raw, and copies it into the picture. */
  private rect(screen: Buffer, rect: Band): void {
    const width = rect.right - rect.left;
    const height = rect.bottom - rect.top;
    const colours = this.palette(rect);
    const out = this.out;
    const background =
      this.useGlyphs && colours && colours.size > 1 ? this.background(colours, width * height) : undefined;
    const glyphs =
      background !== undefined
        ? this.glyphs.code(
            this.pixels,
            this.width,
            rect,
            background,
            paletteBytes(width, height, colours!.size),
          )
        : undefined;
    const op = glyphs
      ? TILE_OPS.glyphs
      : !colours
        ? TILE_OPS.raw
        : colours.size === 1
          ? TILE_OPS.fill
          : TILE_OPS.palette;
    out.u8(op);
    out.u16(rect.left);
    out.u16(rect.top);
    out.u16(width);
    out.u16(height);
    if (glyphs) {
      this.stats.glyphRects++;
      for (const part of glyphs) out.bytes(part);
    } else if (op === TILE_OPS.fill) {
      this.stats.fills++;
      out.colour(this.toRgb(colours!.keys().next().value!));
    } else if (op === TILE_OPS.palette) {
      this.stats.palettes++;
      this.indices(rect, colours!);
    } else {
      this.stats.raws++;
      this.stats.rawPixels += width * (rect.bottom - rect.top);
      this.raw(rect);
    }
    const stride = this.width * 4;
    for (let y = rect.top; y < rect.bottom; y++) {
      const at = y * stride + rect.left * 4;
      screen.copy(this.reference!, at, at, at + width * 4);
    }
  }

  /**
   * The rectangle's colours (pixel → index, the pixel's padding byte cleared), or undefined past
   * MAX_PALETTE; how many pixels each has is left in `counts` (by index).
   */
  private palette(rect: Band): Map<number, number> | undefined {
    const pixels = this.pixels;
    const counts = this.counts.fill(0);
    const colours = new Map<number, number>();
    // The colour before the last one too: text alternates between two, and a Map lookup at every
    // edge of a glyph was most of this.
    let last = -1;
    let index = 0;
    let before = -1;
    let beforeIndex = 0;
    for (let y = rect.top; y < rect.bottom; y++) {
      const row = y * this.width;
      for (let x = rect.left; x < rect.right; x++) {
        const pixel = pixels[row + x]! & 0xffffff;
        if (pixel !== last) {
          const lastIndex = index;
          if (pixel === before) index = beforeIndex;
          else {
            const known = colours.get(pixel);
            if (known !== undefined) index = known;
            else if (colours.size === MAX_PALETTE) return undefined;
            else colours.set(pixel, (index = colours.size));
          }
          before = last;
          beforeIndex = lastIndex;
          last = pixel;
        }
        counts[index]!++;
      }
    }
    return colours;
  }

  /**
   * The colour most of the rectangle just read by palette() is, when it covers at least
   * TEXT_BACKGROUND_SHARE of it (text's background); otherwise undefined: not text.
   */
  private background(colours: Map<number, number>, area: number): number | undefined {
    let best = 0;
    for (let i = 1; i < colours.size; i++) if (this.counts[i]! > this.counts[best]!) best = i;
    return this.counts[best]! >= area * TEXT_BACKGROUND_SHARE ? [...colours.keys()][best] : undefined;
  }

  private indices(rect: Band, colours: Map<number, number>): void {
    const pixels = this.pixels;
    const out = this.out;
    out.u8(colours.size - 1);
    for (const pixel of colours.keys()) out.colour(this.toRgb(pixel));
    const bits = paletteBits(colours.size);
    const perByte = 8 / bits;
    for (let y = rect.top; y < rect.bottom; y++) {
      const row = y * this.width;
      let byte = 0;
      let filled = 0;
      let last = -1;
      let index = 0;
      for (let x = rect.left; x < rect.right; x++) {
        const pixel = pixels[row + x]! & 0xffffff;
        if (pixel !== last) {
          last = pixel;
          index = colours.get(pixel)!;
        }
        byte = (byte << bits) | index;
        if (++filled === perByte) {
          out.u8(byte);
          byte = 0;
          filled = 0;
        }
      }
      if (filled) out.u8(byte << (bits * (perByte - filled)));
    }
  }

  private raw(rect: Band): void {
    const pixels = this.pixels;
    for (let y = rect.top; y < rect.bottom; y++) {
      const row = y * this.width;
      for (let x = rect.left; x < rect.right; x++) this.out.colour(this.toRgb(pixels[row + x]!));
    }
  }
}

/** Tiles looked at by rawShare(): enough to tell a film from a terminal, few enough to take ~1 ms. */
const SAMPLED_TILES = 48;

/**
 * The share of a screen's tiles that have more colours than a palette holds (would be sent raw),
 * estimated from SAMPLED_TILES tiles spread over it: a photograph or a film is mostly such tiles,
 * text and desktops few.
 */
export function rawShare(screen: Buffer, width: number, height: number): number {
  const pixels = pixelsOf(screen, width * height);
  const columns = Math.ceil(width / TILE);
  const tiles = columns * Math.ceil(height / TILE);
  const step = Math.max(1, Math.floor(tiles / SAMPLED_TILES));
  let sampled = 0;
  let raw = 0;
  const colours = new Set<number>();
  for (let tile = Math.floor(step / 2); tile < tiles; tile += step) {
    const left = (tile % columns) * TILE;
    const top = Math.floor(tile / columns) * TILE;
    colours.clear();
    sample: for (let y = top; y < Math.min(height, top + TILE); y++) {
      for (let x = left; x < Math.min(width, left + TILE); x++) {
        colours.add(pixels[y * width + x]! & 0xffffff);
        if (colours.size > MAX_PALETTE) break sample;
      }
    }
    sampled++;
    if (colours.size > MAX_PALETTE) raw++;
  }
  return sampled ? raw / sampled : 0;
}

/** Rows [top, bottom) and columns [left, right). */
interface Band {
  top: number;
  bottom: number;
  left: number;
  right: number;
}

function emptyStats(): TileUpdateStats {
  return { copies: 0, fills: 0, palettes: 0, glyphRects: 0, raws: 0, rawPixels: 0, bytes: 0 };
}

/** What a PALETTE of `count` colours for a width × height rectangle costs after its header. */
function paletteBytes(width: number, height: number, count: number): number {
  return 1 + 3 * count + Math.ceil((width * paletteBits(count)) / 8) * height;
}

/**
 * A glyph sent in the update being made: where its shape has ink (`mask`, bits), and either one
 * colour given where it is placed (`inks` undefined: text in any colour shares it) or the colours
 * of its inked pixels in order (anti-aliased text).
 */
interface Glyph {
  index: number;
  hash: number;
  width: number;
  height: number;
  mask: Uint8Array;
  inks?: Uint32Array;
}

/** A shape just read by GlyphCoder.read(), in its scratch buffers. */
interface Shape {
  hash: number;
  /** Its one colour, or -1 when it has several. */
  colour: number;
  /** Bytes of its mask, and how many pixels are inked. */
  maskBytes: number;
  inked: number;
}

/**
 * Codes rectangles as GLYPHS (see the top of this file), with the glyphs an update has defined so
 * far: a glyph is sent once per update, as receivers forget them between updates (each update
 * stands alone, so that any receiver can take any update it is sent).
 */
class GlyphCoder {
  private readonly toRgb: (pixel: number) => number;
  private readonly byHash = new Map<number, Glyph[]>();
  private count = 0;
  private readonly head = new Writer();
  private readonly body = new Writer();
  /** The shape being read: its mask, and its inked pixels' colours; grown as needed. */
  private mask = new Uint8Array(256);
  private inks = new Uint32Array(1024);
  /** Which columns of the line being cut have anything but the background. */
  private columns = new Uint8Array(64);

  constructor(toRgb: (pixel: number) => number) {
    this.toRgb = toRgb;
  }

  /** A new update: no glyphs defined. */
  reset(): void {
    this.byHash.clear();
    this.count = 0;
  }

  /**
   * The body of a GLYPHS operation for `rect` (after its header) on `background`, as parts to write
   * in order (valid until the next call), or undefined when its glyphs would cost `limit` bytes or
   * more (what the rectangle costs as a palette). Glyphs it defined are forgotten again when it
   * gives up.
   */
  code(
    pixels: Uint32Array,
    stride: number,
    rect: Band,
    background: number,
    limit: number,
  ): Buffer[] | undefined {
    const countBefore = this.count;
    const area = (rect.right - rect.left) * (rect.bottom - rect.top);
    const defined: Glyph[] = [];
    // One-colour glyphs' colours, numbered from 1 as they are met (the header lists them).
    const inkIndex = new Map<number, number>();
    const body = this.body;
    body.reset();
    body.u16(0);
    let lines = 0;
    if (this.columns.length < rect.right - rect.left) this.columns = new Uint8Array(rect.right - rect.left);
    const columns = this.columns;
    const giveUp = () => {
      for (const glyph of defined) this.forget(glyph);
      this.count = countBefore;
      return undefined;
    };

    for (let y = rect.top; y < rect.bottom;) {
      if (!rowHasInk(pixels, stride, y, rect.left, rect.right, background)) {
        y++;
        continue;
      }
      const top = y;
      while (y < rect.bottom && rowHasInk(pixels, stride, y, rect.left, rect.right, background)) y++;
      const height = y - top;
      lines++;
      body.u16(top - rect.top);
      body.u16(height);
      const placedAt = body.length;
      body.u16(0);
      let placed = 0;
      let edge = rect.left;
      // Which of the line's columns have anything but the background, read row by row.
      columns.fill(0);
      for (let row = top; row < y; row++) {
        const at = row * stride;
        for (let x = rect.left; x < rect.right; x++)
          if ((pixels[at + x]! & 0xffffff) !== background) columns[x - rect.left] = 1;
      }
      const inked = (x: number) => columns[x - rect.left] === 1;
      for (let x = rect.left; x < rect.right;) {
        if (!inked(x)) {
          x++;
          continue;
        }
        const left = x;
        while (x < rect.right && inked(x)) x++;
        const shape = this.read(pixels, stride, left, x, top, y, background);
        const width = x - left;
        // A shape of many colours over half the rectangle is a picture, not a character: coding it
        // would cost what its palette does, after the work.
        if (shape.colour < 0 && 2 * width * height > area) return giveUp();
        const known = this.find(shape, width, height);
        const glyph = known ?? this.define(shape, width, height);
        if (!known) defined.push(glyph);
        body.u16(left - edge);
        body.u16(glyph.index);
        if (glyph.inks) body.u8(0);
        else {
          let ink = inkIndex.get(shape.colour);
          if (ink === undefined) {
            if (inkIndex.size === MAX_GLYPH_INKS) return giveUp();
            inkIndex.set(shape.colour, (ink = inkIndex.size + 1));
          }
          body.u8(ink);
        }
        if (!known) this.writeDefinition(glyph);
        placed++;
        edge = x;
        if (body.length >= limit) return giveUp();
      }
      body.setU16(placedAt, placed);
    }
    body.setU16(0, lines);
    const head = this.head;
    head.reset();
    head.colour(this.toRgb(background));
    head.u8(inkIndex.size);
    for (const colour of inkIndex.keys()) head.colour(this.toRgb(colour));
    if (head.length + body.length >= limit) return giveUp();
    return [head.view(), body.view()];
  }

  /**
   * Reads the shape in columns [left, right) and rows [top, bottom) into the scratch buffers: its
   * mask, its inked pixels' colours, and a hash of both (of the mask alone for one colour).
   */
  private read(
    pixels: Uint32Array,
    stride: number,
    left: number,
    right: number,
    top: number,
    bottom: number,
    background: number,
  ): Shape {
    const width = right - left;
    const area = width * (bottom - top);
    const maskBytes = Math.ceil(area / 8);
    if (this.mask.length < maskBytes) this.mask = new Uint8Array(maskBytes * 2);
    if (this.inks.length < area) this.inks = new Uint32Array(area * 2);
    const { mask, inks } = this;
    mask.fill(0, 0, maskBytes);
    let colour = -1;
    let inked = 0;
    let bit = 0;
    let colourHash = 0x811c9dc5;
    for (let y = top; y < bottom; y++) {
      const row = y * stride;
      for (let x = left; x < right; x++, bit++) {
        const pixel = pixels[row + x]! & 0xffffff;
        if (pixel === background) continue;
        if (inked === 0) colour = pixel;
        else if (pixel !== colour) colour = -2;
        inks[inked++] = pixel;
        colourHash = Math.imul(colourHash ^ pixel, 0x01000193);
        mask[bit >> 3]! |= 0x80 >> (bit & 7);
      }
    }
    let hash = Math.imul(0x811c9dc5 ^ width, 0x01000193);
    for (let i = 0; i < maskBytes; i++) hash = Math.imul(hash ^ mask[i]!, 0x01000193);
    // One colour: the mask alone, so that the same character in another colour is the same glyph.
    if (colour === -2) hash = Math.imul(hash ^ colourHash, 0x01000193);
    return { hash: hash >>> 0, colour: colour === -2 ? -1 : colour, maskBytes, inked };
  }

  /** The glyph already defined with the shape just read, if any. */
  private find(shape: Shape, width: number, height: number): Glyph | undefined {
    const { mask, inks } = this;
    const oneColour = shape.colour >= 0;
    const same = (g: Glyph) =>
      g.width === width &&
      g.height === height &&
      (g.inks === undefined) === oneColour &&
      g.mask.every((byte, i) => byte === mask[i]) &&
      (g.inks === undefined || g.inks.every((ink, i) => ink === inks[i]));
    return this.byHash.get(shape.hash)?.find(same);
  }

  private define(shape: Shape, width: number, height: number): Glyph {
    const glyph: Glyph = {
      index: this.count++,
      hash: shape.hash,
      width,
      height,
      mask: this.mask.slice(0, shape.maskBytes),
      inks: shape.colour >= 0 ? undefined : this.inks.slice(0, shape.inked),
    };
    const same = this.byHash.get(shape.hash);
    if (same) same.push(glyph);
    else this.byHash.set(shape.hash, [glyph]);
    return glyph;
  }

  /** A new glyph, as the format has it: its width, then its mask or its colours and indices. */
  private writeDefinition(glyph: Glyph) {
    const body = this.body;
    body.u16(glyph.width);
    if (!glyph.inks) {
      body.u8(0);
      body.bytes(glyph.mask);
      return;
    }
    // Its own colours, numbered from 1 (0 is the background), and each pixel's number.
    const own = new Map<number, number>();
    for (const ink of glyph.inks) if (!own.has(ink)) own.set(ink, own.size + 1);
    body.u8(own.size);
    for (const colour of own.keys()) body.colour(this.toRgb(colour));
    const bits = paletteBits(own.size + 1);
    const pixels = glyph.width * glyph.height;
    let byte = 0;
    let filled = 0;
    let inked = 0;
    for (let i = 0; i < pixels; i++) {
      const index = glyph.mask[i >> 3]! & (0x80 >> (i & 7)) ? own.get(glyph.inks[inked++]!)! : 0;
      byte = (byte << bits) | index;
      filled += bits;
      if (filled === 8) {
        body.u8(byte);
        byte = 0;
        filled = 0;
      }
    }
    if (filled) body.u8(byte << (8 - filled));
  }

  private forget(glyph: Glyph) {
    const same = this.byHash.get(glyph.hash)!;
    same.splice(same.indexOf(glyph), 1);
    if (same.length === 0) this.byHash.delete(glyph.hash);
  }
}

function rowHasInk(
  pixels: Uint32Array,
  stride: number,
  y: number,
  left: number,
  right: number,
  background: number,
) {
  const row = y * stride;
  for (let x = left; x < right; x++) if ((pixels[row + x]! & 0xffffff) !== background) return true;
  return false;
}

/** Whether two pictures' pixels [from, to) are the same: a tile's row, too short for a native call to pay. */
function same(a: Uint32Array, b: Uint32Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

function swapRedBlue(pixel: number): number {
  return ((pixel & 0xff) << 16) | (pixel & 0xff00) | ((pixel >>> 16) & 0xff);
}

/**
 * Every HASH_STEP-th pixel of a row goes into its hash: a third of the work, and enough to tell
 * lines of text apart (rows that collide only lose their vote; a shift is checked whole anyway).
 */
const HASH_STEP = 3;

/** FNV-1a over a row's pixels in [left, right) (every HASH_STEP-th), padding bytes ignored. */
function rowHash(pixels: Uint32Array, width: number, y: number, left: number, right: number): number {
  let hash = 0x811c9dc5;
  const row = y * width;
  for (let x = left; x < right; x += HASH_STEP)
    hash = Math.imul(hash ^ (pixels[row + x]! & 0xffffff), 0x01000193);
  return hash >>> 0;
}

/** The buffer's 4-byte pixels, viewed in place when aligned (a screen buffer is), else copied. */
function pixelsOf(screen: Buffer, count: number): Uint32Array {
  if (screen.byteOffset % 4 === 0) return new Uint32Array(screen.buffer, screen.byteOffset, count);
  return new Uint32Array(Uint8Array.prototype.slice.call(screen, 0, count * 4).buffer);
}

/** A growable output buffer, reused between updates. */
class Writer {
  private buffer = Buffer.alloc(64 * 1024);
  private at = 0;

  reset(): void {
    this.at = 0;
  }

  /** What was written, without copying (valid until the next write). */
  view(): Buffer {
    return this.buffer.subarray(0, this.at);
  }

  /** A copy of what was written (the buffer is reused). */
  take(): Buffer {
    return Buffer.from(this.buffer.subarray(0, this.at));
  }

  private room(count: number): void {
    if (this.at + count <= this.buffer.length) return;
    const bigger = Buffer.alloc(Math.max(this.buffer.length * 2, this.at + count));
    this.buffer.copy(bigger, 0, 0, this.at);
    this.buffer = bigger;
  }

  u8(value: number): void {
    this.room(1);
    this.buffer[this.at++] = value;
  }

  u16(value: number): void {
    this.room(2);
    this.buffer.writeUInt16LE(value, this.at);
    this.at += 2;
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  /** Overwrites a u16 written earlier at `at` (a count known only later). */
  setU16(at: number, value: number): void {
    this.buffer.writeUInt16LE(value, at);
  }

  bytes(data: Uint8Array): void {
    this.room(data.length);
    this.buffer.set(data, this.at);
    this.at += data.length;
  }

  /** 0xRRGGBB as red, green, blue. */
  colour(rgb: number): void {
    this.room(3);
    this.buffer[this.at++] = rgb >>> 16;
    this.buffer[this.at++] = (rgb >>> 8) & 0xff;
    this.buffer[this.at++] = rgb & 0xff;
  }
}
