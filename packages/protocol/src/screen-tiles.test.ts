import { describe, expect, it } from "vitest";
import {
  applyTileUpdate,
  blankPicture,
  TILE_OPS,
  TileFormatError,
  type TilePicture,
} from "./screen-tiles.ts";

/** Builds an update byte by byte: u8 values as numbers, u16 values as [value]. */
function update(width: number, height: number, ...parts: (number | [number])[]): Uint8Array {
  return versioned(1, width, height, ...parts);
}

function versioned(
  version: number,
  width: number,
  height: number,
  ...parts: (number | [number])[]
): Uint8Array {
  const bytes = [version, width & 0xff, width >> 8, height & 0xff, height >> 8];
  for (const part of parts) {
    if (typeof part === "number") bytes.push(part);
    else bytes.push(part[0] & 0xff, part[0] >> 8);
  }
  return Uint8Array.from(bytes);
}

const u16s = (...values: number[]): [number][] => values.map((v) => [v]);
const rect = (x: number, y: number, w: number, h: number): [number][] => u16s(x, y, w, h);

function pixel(picture: TilePicture, x: number, y: number): number[] {
  const at = (y * picture.width + x) * 4;
  return [...picture.rgba.subarray(at, at + 4)];
}

describe("tile updates", () => {
  it("starts a black picture of the update's size and fills a rectangle", () => {
    const { picture, changed } = applyTileUpdate(
      undefined,
      update(4, 3, TILE_OPS.fill, ...rect(1, 1, 2, 1), 10, 20, 30),
    );
    expect([picture.width, picture.height]).toEqual([4, 3]);
    expect(pixel(picture, 0, 0)).toEqual([0, 0, 0, 255]);
    expect(pixel(picture, 1, 1)).toEqual([10, 20, 30, 255]);
    expect(pixel(picture, 2, 1)).toEqual([10, 20, 30, 255]);
    expect(pixel(picture, 3, 1)).toEqual([0, 0, 0, 255]);
    // A new picture counts as changed whole.
    expect(changed).toEqual({ x: 0, y: 0, width: 4, height: 3 });
  });

  it("draws palette indices of each width, most significant bits first, rows starting on a byte", () => {
    // Three colours → 2 bits: row 0 = 0,1,2 (00 01 10 00), row 1 = 2,2,1.
    const { picture } = applyTileUpdate(
      blankPicture(3, 2),
      update(
        3,
        2,
        TILE_OPS.palette,
        ...rect(0, 0, 3, 2),
        2,
        1,
        1,
        1,
        2,
        2,
        2,
        3,
        3,
        3,
        0b00011000,
        0b10100100,
      ),
    );
    expect([0, 1, 2].map((x) => pixel(picture, x, 0)[0])).toEqual([1, 2, 3]);
    expect([0, 1, 2].map((x) => pixel(picture, x, 1)[0])).toEqual([3, 3, 2]);
  });

  it("draws raw colours row by row", () => {
    const { picture, changed } = applyTileUpdate(
      blankPicture(2, 2),
      update(2, 2, TILE_OPS.raw, ...rect(1, 0, 1, 2), 1, 2, 3, 4, 5, 6),
    );
    expect(pixel(picture, 1, 0)).toEqual([1, 2, 3, 255]);
    expect(pixel(picture, 1, 1)).toEqual([4, 5, 6, 255]);
    expect(changed).toEqual({ x: 1, y: 0, width: 1, height: 2 });
  });

  it("moves overlapping rows as they were before the move, up and down", () => {
    const rows = (picture: TilePicture) => [0, 1, 2, 3].map((y) => pixel(picture, 0, y)[0]);
    const start = () =>
      applyTileUpdate(
        blankPicture(1, 4),
        update(1, 4, TILE_OPS.raw, ...rect(0, 0, 1, 4), 1, 0, 0, 2, 0, 0, 3, 0, 0, 4, 0, 0),
      ).picture;
    const up = applyTileUpdate(start(), update(1, 4, TILE_OPS.copy, [0], [1], ...rect(0, 0, 1, 3))).picture;
    expect(rows(up)).toEqual([2, 3, 4, 4]);
    const down = applyTileUpdate(start(), update(1, 4, TILE_OPS.copy, [0], [0], ...rect(0, 1, 1, 3))).picture;
    expect(rows(down)).toEqual([1, 1, 2, 3]);
  });

  it("draws glyphs on the background, each defined once and named again, in its ink or its own colours", () => {
    // A 7×3 rectangle at 1,0 of an 8×4 screen, one line (rows 1-2): glyph 0 (2×2, a diagonal) in
    // ink 1, again a column further on in ink 2, glyph 1 (1×2, full) right after it in ink 1, and
    // glyph 2 (1×2) with two colours of its own.
    const { picture, changed } = applyTileUpdate(
      blankPicture(8, 4),
      versioned(
        2,
        8,
        4,
        TILE_OPS.glyphs,
        ...rect(1, 0, 7, 3),
        ...[10, 10, 10],
        2,
        ...[200, 0, 0, 0, 0, 200],
        ...u16s(1, 1, 2, 4),
        ...u16s(0, 0),
        1,
        ...u16s(2),
        0,
        0b10010000,
        ...u16s(1, 0),
        2,
        ...u16s(0, 1),
        1,
        ...u16s(1),
        0,
        0b11000000,
        ...u16s(0, 2),
        0,
        ...u16s(1),
        2,
        ...[1, 2, 3, 4, 5, 6],
        0b01100000,
      ),
    );
    const at = (x: number, y: number) => pixel(picture, x, y).slice(0, 3);
    const bg = [10, 10, 10];
    const red = [200, 0, 0];
    const blue = [0, 0, 200];
    // Row 0 is background; rows 1-2 hold the glyphs; column 0 and row 3 are outside.
    expect([0, 1, 2, 3, 4, 5, 6, 7].map((x) => at(x, 0))).toEqual([[0, 0, 0], bg, bg, bg, bg, bg, bg, bg]);
    expect([1, 2, 3, 4, 5, 6, 7].map((x) => at(x, 1))).toEqual([red, bg, bg, blue, bg, red, [1, 2, 3]]);
    expect([1, 2, 3, 4, 5, 6, 7].map((x) => at(x, 2))).toEqual([bg, red, bg, bg, blue, red, [4, 5, 6]]);
    expect(at(1, 3)).toEqual([0, 0, 0]);
    expect(changed).toEqual({ x: 1, y: 0, width: 7, height: 3 });
  });

  it.each([
    ["another version", Uint8Array.from([3, 1, 0, 1, 0]), /version 3, expected one of 1,2/],
    ["glyphs in a version 1 update", update(4, 4, TILE_OPS.glyphs), /unknown tile operation 5/],
    [
      "a glyph used before it was defined",
      versioned(
        2,
        4,
        2,
        TILE_OPS.glyphs,
        ...rect(0, 0, 4, 2),
        0,
        0,
        0,
        1,
        9,
        9,
        9,
        ...u16s(1, 0, 2, 1, 0, 1),
        1,
      ),
      /glyph 1 used before glyph 0 was defined/,
    ],
    [
      "a glyph past its rectangle's right edge",
      versioned(
        2,
        4,
        1,
        TILE_OPS.glyphs,
        ...rect(0, 0, 4, 1),
        0,
        0,
        0,
        1,
        9,
        9,
        9,
        ...u16s(1, 0, 1, 1, 3, 0),
        1,
        ...u16s(2),
        0,
        0b11000000,
      ),
      /overruns its 4-column rectangle/,
    ],
    [
      "a one-colour glyph without an ink",
      versioned(
        2,
        4,
        1,
        TILE_OPS.glyphs,
        ...rect(0, 0, 4, 1),
        0,
        0,
        0,
        1,
        9,
        9,
        9,
        ...u16s(1, 0, 1, 1, 0, 0),
        0,
        ...u16s(1),
        0,
        0x80,
      ),
      /glyph 0 has one colour: it needs an ink/,
    ],
    [
      "an ink past the operation's",
      versioned(
        2,
        4,
        1,
        TILE_OPS.glyphs,
        ...rect(0, 0, 4, 1),
        0,
        0,
        0,
        1,
        9,
        9,
        9,
        ...u16s(1, 0, 1, 1, 0, 0),
        2,
      ),
      /glyph ink 2 of 1/,
    ],
    [
      "a glyph line below its rectangle",
      versioned(2, 4, 2, TILE_OPS.glyphs, ...rect(0, 0, 4, 2), 0, 0, 0, 0, ...u16s(1, 1, 2, 0)),
      /outside its 2-row rectangle/,
    ],
    ["an empty screen", update(0, 5), /empty screen/],
    ["a truncated header", Uint8Array.from([1, 4]), /ends at byte 2/],
    ["a truncated operation", update(4, 4, TILE_OPS.fill, ...rect(0, 0, 1, 1), 9), /inside an operation/],
    [
      "a rectangle outside the screen",
      update(4, 4, TILE_OPS.fill, ...rect(3, 0, 2, 1), 0, 0, 0),
      /outside the 4×4/,
    ],
    ["an empty rectangle", update(4, 4, TILE_OPS.fill, ...rect(0, 0, 0, 1), 0, 0, 0), /empty or outside/],
    ["a copy from outside the screen", update(4, 4, TILE_OPS.copy, [0], [2], ...rect(0, 0, 4, 3)), /outside/],
    ["an unknown operation", update(4, 4, 9), /unknown tile operation 9 at byte 5/],
    [
      "a palette index past its colours",
      update(2, 1, TILE_OPS.palette, ...rect(0, 0, 2, 1), 2, 0, 0, 0, 1, 1, 1, 2, 2, 2, 0b00110000),
      /index 3 of 3/,
    ],
    [
      "a one-colour palette",
      update(2, 1, TILE_OPS.palette, ...rect(0, 0, 2, 1), 0, 1, 1, 1, 0),
      /one colour/,
    ],
  ])("refuses %s with the reason", (_, bytes, reason) => {
    expect(() => applyTileUpdate(undefined, bytes)).toThrow(TileFormatError);
    expect(() => applyTileUpdate(undefined, bytes)).toThrow(reason);
  });
});
