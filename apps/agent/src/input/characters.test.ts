import { describe, expect, it } from "vitest";
import {
  isCasedLetter,
  KeyboardLayout,
  keysymForCharacter,
  MODIFIER_MASK,
  modifiersFor,
} from "./characters.ts";

describe("keysymForCharacter", () => {
  it("names Latin-1 by code point, the euro by its old keysym, the rest as Unicode keysyms", () => {
    expect(keysymForCharacter("a")).toBe(0x61);
    expect(keysymForCharacter("$")).toBe(0x24);
    expect(keysymForCharacter(" ")).toBe(0x20);
    expect(keysymForCharacter("é")).toBe(0xe9);
    expect(keysymForCharacter("€")).toBe(0x20ac);
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

describe("KeyboardLayout", () => {
  it("finds each character's key and level, the plain place first", () => {
    const german = layout(GERMAN);
    expect(german.locate(0x34)).toEqual({ keycode: 13, shift: false, level3: false });
    expect(german.locate(0x24)).toEqual({ keycode: 13, shift: true, level3: false });
    expect(german.locate(0x40)).toEqual({ keycode: 24, shift: false, level3: true });
    expect(german.locate(0x7a)).toEqual({ keycode: 29, shift: false, level3: false });
    // q appears in group 2 too; the plain column wins.
    expect(german.locate(0x71)).toEqual({ keycode: 24, shift: false, level3: false });
    expect(german.locate(0x41)).toEqual({ keycode: 38, shift: true, level3: false });
    expect(german.locate(0xe9)).toBeUndefined();
    expect(german.shiftKeycode).toBe(50);
    expect(german.level3Keycode).toBe(108);
    expect(german.level3Mask).toBe(MODIFIER_MASK.mod5);
    expect(german.modifierKeys(MODIFIER_MASK.shift | MODIFIER_MASK.control)).toEqual([50, 37]);
  });

  it("cannot type what needs a Shift or AltGr the layout lacks", () => {
    const { 50: _shift, 108: _altGr, ...rest } = GERMAN;
    const bare = layout(rest, []);
    expect(bare.locate(0x24)).toBeUndefined();
    expect(bare.locate(0x40)).toBeUndefined();
    expect(bare.locate(0x34)).toEqual({ keycode: 13, shift: false, level3: false });
  });

  it("learns which modifier AltGr sets", () => {
    const mod3 = layout(GERMAN, [[50], [66], [37], [64], [], [108], [], []]);
    expect(mod3.level3Mask).toBe(MODIFIER_MASK.mod3);
  });
});

describe("modifiersFor", () => {
  const { shift, lock, control, mod1, mod5 } = MODIFIER_MASK;
  const plain = { keycode: 13, shift: false, level3: false };
  const shifted = { keycode: 13, shift: true, level3: false };
  const altGr = { keycode: 24, shift: false, level3: true };

  it("presses Shift for a shifted character and lifts a held one for a plain character", () => {
    expect(modifiersFor(shifted, 0, false, mod5)).toEqual({ press: shift, lift: 0 });
    expect(modifiersFor(shifted, shift, false, mod5)).toEqual({ press: 0, lift: 0 });
    expect(modifiersFor(plain, shift, false, mod5)).toEqual({ press: 0, lift: shift });
  });

  it("turns a letter's level over under Caps Lock, and nothing else's", () => {
    expect(modifiersFor(shifted, lock, true, mod5)).toEqual({ press: 0, lift: 0 });
    expect(modifiersFor(plain, lock, true, mod5)).toEqual({ press: shift, lift: 0 });
    expect(modifiersFor(shifted, lock, false, mod5)).toEqual({ press: shift, lift: 0 });
  });

  it("presses AltGr when the character needs it and lifts Control and Alt", () => {
    expect(modifiersFor(altGr, control | mod1, false, mod5)).toEqual({ press: mod5, lift: control | mod1 });
    expect(modifiersFor(plain, mod5, false, mod5)).toEqual({ press: 0, lift: mod5 });
    // Where AltGr is Mod1, a character that needs it keeps it.
    expect(modifiersFor(altGr, mod1, false, mod1)).toEqual({ press: 0, lift: 0 });
  });

  it("knows letters by their case", () => {
    expect(["a", "Z", "é", "ж"].map(isCasedLetter)).toEqual([true, true, true, true]);
    expect(["1", "$", " ", "@"].map(isCasedLetter)).toEqual([false, false, false, false]);
  });
});
