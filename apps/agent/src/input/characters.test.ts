import { describe, expect, it } from "vitest";
import {
  activeGroup,
  KeyboardLayout,
  keysymForCharacter,
  MODIFIER_MASK,
  unicodeKeysym,
  modifiersFor,
} from "./characters.ts";

describe("keysymForCharacter", () => {
  it("names Latin-1 by code point and the rest as Unicode keysyms", () => {
    expect(keysymForCharacter("a")).toBe(0x61);
    expect(keysymForCharacter("$")).toBe(0x24);
    expect(keysymForCharacter(" ")).toBe(0x20);
    expect(keysymForCharacter("é")).toBe(0xe9);
    expect(keysymForCharacter("€")).toBe(0x10020ac);
    expect(keysymForCharacter("ж")).toBe(0x1000436);
    // Outside the Basic Multilingual Plane: one character in two UTF-16 units.
    expect(keysymForCharacter("😀")).toBe(0x101f600);
  });

  it("is undefined for keys that are not one printable character", () => {
    for (const text of ["", "ab", "Enter", "\n", "\t", "\u007f", "\u0085", "Dead"]) {
      expect(keysymForCharacter(text), JSON.stringify(text)).toBeUndefined();
    }
  });
});

/** A German-like layout: keycode → keysyms by column, and the modifier map. */
function layout(
  keys: Record<number, number[]>,
  modifiers: number[][] = [[50], [66], [37], [64], [], [], [], [108]],
) {
  const perKeycode = 6;
  const minKeycode = 8;
  const keysyms = new Uint32Array((255 - minKeycode + 1) * perKeycode);
  for (const [keycode, syms] of Object.entries(keys)) {
    syms.forEach((sym, column) => (keysyms[(Number(keycode) - minKeycode) * perKeycode + column] = sym));
  }
  const perModifier = 2;
  const map = new Uint8Array(8 * perModifier);
  modifiers.forEach((row, modifier) =>
    row.forEach((keycode, i) => (map[modifier * perModifier + i] = keycode)),
  );
  return new KeyboardLayout(minKeycode, perKeycode, keysyms, perModifier, map);
}

const GERMAN = {
  10: [0x31, 0x21], // 1 !
  13: [0x34, 0x24], // 4 $
  24: [0x71, 0x51, 0x71, 0x51, 0x40], // q Q q Q @ (AltGr+Q)
  29: [0x7a, 0x5a], // z Z where a US keyboard has y
  38: [0x61], // a, listed alone: A is its shifted case
  37: [0xffe3], // Control_L
  50: [0xffe1], // Shift_L
  62: [0xffe2], // Shift_R
  64: [0xffe9], // Alt_L
  66: [0xffe5], // Caps_Lock
  108: [0xfe03], // ISO_Level3_Shift (AltGr)
  121: [0x1008ff12], // XF86AudioMute: past Unicode, no case to look for
};

const at = (keycode: number, shift = false, level3 = false, alphabetic = false) => ({
  keycode,
  shift,
  level3,
  alphabetic,
});

describe("KeyboardLayout", () => {
  it("finds each character's key and level, the plain place first", () => {
    const german = layout(GERMAN);
    expect(german.locate(0x34)).toEqual(at(13));
    expect(german.locate(0x24)).toEqual(at(13, true));
    expect(german.locate(0x40)).toEqual(at(24, false, true));
    expect(german.locate(0x7a)).toEqual(at(29, false, false, true));
    expect(german.locate(0x71)).toEqual(at(24, false, false, true));
    // Listed alone, a letter's upper case is its key shifted.
    expect(german.locate(0x41)).toEqual(at(38, true, false, true));
    expect(german.locate(0xe9)).toBeUndefined();
    expect(german.shiftKeycode).toBe(50);
    expect(german.level3Keycode).toBe(108);
    expect(german.keycodeOf(0xffe3)).toBe(37);
    expect(german.level3Mask).toBe(MODIFIER_MASK.mod5);
    expect(german.modifierKeys(MODIFIER_MASK.shift | MODIFIER_MASK.control)).toEqual([50, 37]);
    // Keycodes no key makes anything with, for characters the layout lacks.
    expect(german.spareKeycodes).toHaveLength(255 - 8 + 1 - Object.keys(GERMAN).length);
    expect(german.spareKeycodes).not.toContain(13);
  });

  it("tells a letter key from one whose levels are not a letter's cases", () => {
    // French: é over 2 (Caps Lock leaves it alone in XKB's four-level types), a over A.
    const french = layout({ 11: [0xe9, 0x32, 0xe9, 0x32, 0x7e], 24: [0x61, 0x41], 50: [0xffe1] });
    expect(french.locate(0xe9)).toEqual(at(11));
    expect(french.locate(0x32)).toEqual(at(11, true));
    expect(french.locate(0x61)).toEqual(at(24, false, false, true));
  });

  it("with two groups, looks in the active one and does not guess at AltGr", () => {
    // "us,ru": the second group's columns differ from the first's.
    const twoGroups = layout({
      24: [0x71, 0x51, 0x1000439, 0x1000419, 0x40],
      38: [0x61, 0x41, 0x1000444, 0x1000424],
      50: [0xffe1],
      108: [0xfe03],
    });
    expect(twoGroups.locate(0x71)).toEqual(at(24, false, false, true));
    expect(twoGroups.locate(0x1000439)).toBeUndefined();
    expect(twoGroups.locate(0x1000439, 1)).toEqual(at(24, false, false, true));
    expect(twoGroups.locate(0x1000424, 1)).toEqual(at(38, true, false, true));
    expect(twoGroups.locate(0x40)).toBeUndefined();
    expect(activeGroup(1 << 13)).toBe(1);
  });

  it("cannot type what needs a Shift or AltGr the layout lacks", () => {
    const { 50: _shift, 108: _altGr, ...rest } = GERMAN;
    const bare = layout(rest, []);
    expect(bare.locate(0x24)).toBeUndefined();
    expect(bare.locate(0x40)).toBeUndefined();
    // A letter, whose case Caps Lock might turn and Shift would have to turn back.
    expect(bare.locate(0x7a)).toBeUndefined();
    expect(bare.locate(0x34)).toEqual(at(13));
  });

  it("finds a character a layout names by its legacy keysym", () => {
    // Russian: Cyrillic_ef (0x6c6) and Cyrillic_EF (0x6e6) on the key of a; German AltGr+E is EuroSign.
    const russian = layout({
      38: [0x6c6, 0x6e6],
      26: [0x65, 0x45, 0x65, 0x45, 0x20ac],
      50: [0xffe1],
      108: [0xfe03],
    });
    expect(unicodeKeysym(0x6c6)).toBe(keysymForCharacter("ф"));
    expect(russian.locate(keysymForCharacter("ф")!)).toEqual(at(38, false, false, true));
    expect(russian.locate(keysymForCharacter("Ф")!)).toEqual(at(38, true, false, true));
    expect(russian.locate(keysymForCharacter("€")!)).toEqual(at(26, false, true));
    expect(unicodeKeysym(0x61)).toBeUndefined();
  });

  it("learns which modifier AltGr sets", () => {
    const mod3 = layout(GERMAN, [[50], [66], [37], [64], [], [108], [], []]);
    expect(mod3.level3Mask).toBe(MODIFIER_MASK.mod3);
  });
});

describe("modifiersFor", () => {
  const { shift, lock, control, mod1, mod5 } = MODIFIER_MASK;
  const plain = at(13);
  const shifted = at(13, true);
  const letter = at(38, false, false, true);
  const upper = at(38, true, false, true);
  const altGr = at(24, false, true);

  it("presses Shift for a shifted character and lifts a held one for a plain character", () => {
    expect(modifiersFor(shifted, 0, mod5)).toEqual({ press: shift, lift: 0 });
    expect(modifiersFor(shifted, shift, mod5)).toEqual({ press: 0, lift: 0 });
    expect(modifiersFor(plain, shift, mod5)).toEqual({ press: 0, lift: shift });
  });

  it("turns a letter key's levels over under Caps Lock, and nothing else's", () => {
    expect(modifiersFor(upper, lock, mod5)).toEqual({ press: 0, lift: 0 });
    expect(modifiersFor(letter, lock, mod5)).toEqual({ press: shift, lift: 0 });
    expect(modifiersFor(shifted, lock, mod5)).toEqual({ press: shift, lift: 0 });
    expect(modifiersFor(plain, lock, mod5)).toEqual({ press: 0, lift: 0 });
  });

  it("presses AltGr when the character needs it and lifts Control and Alt", () => {
    expect(modifiersFor(altGr, control | mod1, mod5)).toEqual({ press: mod5, lift: control | mod1 });
    expect(modifiersFor(plain, mod5, mod5)).toEqual({ press: 0, lift: mod5 });
    // Where AltGr is Mod1, a character that needs it keeps it.
    expect(modifiersFor(altGr, mod1, mod1)).toEqual({ press: 0, lift: 0 });
  });
});
