/**
 * Where a character is on the desktop's keyboard: which key, and whether it needs Shift or the
 * third level (AltGr). Read from the X server's own tables (GetKeyboardMapping and
 * GetModifierMapping), so it follows the desktop's layout, whatever the viewer's is.
 *
 * Typing a character by its physical key (`KeyboardEvent.code`) types what that key makes on the
 * desktop's layout, with whatever Shift the viewer happens to hold: an on-screen keyboard or a
 * script that sends "$" without Shift typed "4", and a French viewer's "a" came out as "q" on a US
 * desktop. So a key that produced a character is typed as that character, as a VNC viewer's keysym
 * is (RFC 6143 §7.5.4).
 */

import { LEGACY_KEYSYMS } from "./legacy-keysyms.ts";

/** Keysyms this module looks for (X11 keysymdef.h). */
const SHIFT_L = 0xffe1;
const ISO_LEVEL3_SHIFT = 0xfe03;

/** The keysyms of the modifier keys the agent may hold (nut-js presses them by these names). */
export const MODIFIER_KEYSYMS: Record<string, number> = {
  Shift_L: 0xffe1,
  Shift_R: 0xffe2,
  Control_L: 0xffe3,
  Control_R: 0xffe4,
  Alt_L: 0xffe9,
  Alt_R: 0xffea,
  Super_L: 0xffeb,
  Super_R: 0xffec,
};

/**
 * Where a character is: press `keycode` with Shift (`shift`) and AltGr (`level3`) as given.
 * `alphabetic`: the key's two levels are a letter's two cases, so Caps Lock turns them over.
 */
export interface CharacterKey {
  keycode: number;
  shift: boolean;
  level3: boolean;
  alphabetic: boolean;
}

/** The modifier bits of the core protocol's SETofKEYMASK. */
export const MODIFIER_MASK = {
  shift: 1 << 0,
  lock: 1 << 1,
  control: 1 << 2,
  mod1: 1 << 3,
  mod2: 1 << 4,
  mod3: 1 << 5,
  mod4: 1 << 6,
  mod5: 1 << 7,
} as const;

/**
 * A character's keysym: Latin-1 characters are their code point (keysymdef.h), everything else
 * is 0x01000000 + its code point (X11 protocol, Appendix A: "Unicode keysyms"). Layouts that name
 * the character by an older keysym are found through unicodeKeysym(). Undefined for
 * anything that is not one printable character.
 */
export function keysymForCharacter(text: string): number | undefined {
  const codePoint = text.codePointAt(0);
  if (codePoint === undefined || String.fromCodePoint(codePoint) !== text) return undefined;
  // Controls (C0, DEL, C1) are keys, not characters: Enter, Tab and Backspace go by their code.
  if (codePoint < 0x20 || (codePoint >= 0x7f && codePoint < 0xa0)) return undefined;
  return codePoint <= 0xff ? codePoint : 0x01000000 + codePoint;
}

let unicodeOfLegacy: Map<number, number> | undefined;

/**
 * The Unicode keysym (as keysymForCharacter names it) of one of X's legacy keysyms, which layouts
 * still use for their characters (`Cyrillic_a` is U+0430, `EuroSign` U+20AC); undefined for others.
 */
export function unicodeKeysym(keysym: number): number | undefined {
  if (!unicodeOfLegacy) {
    unicodeOfLegacy = new Map();
    for (let i = 0; i < LEGACY_KEYSYMS.length; i += 2) {
      const unicode = keysymForCharacter(String.fromCodePoint(LEGACY_KEYSYMS[i + 1]!));
      if (unicode !== undefined) unicodeOfLegacy.set(LEGACY_KEYSYMS[i]!, unicode);
    }
  }
  return unicodeOfLegacy.get(keysym);
}

/**
 * The desktop's keyboard layout as the core protocol describes it: for each keycode its keysyms,
 * by column (group 1 plain and shifted, group 2 plain and shifted, then group 1's third and fourth
 * levels, where XKB puts AltGr's), and for each of the 8 modifiers its keycodes.
 *
 * With one group, XKB repeats group 1 in the group 2 columns. With several (a "us,ru" layout), the
 * columns after them are not reliably group 1's levels, so AltGr's characters are not looked for;
 * a character is looked for in the group the server has active.
 */
export class KeyboardLayout {
  /** The keycode of Shift_L and of AltGr (ISO_Level3_Shift), when the layout has them. */
  readonly shiftKeycode: number | undefined;
  readonly level3Keycode: number | undefined;
  /** The modifier bit AltGr sets (Mod5 in XKB's default layouts). */
  readonly level3Mask: number;
  /** Keycodes with no keysym at all (no key of the keyboard makes them): a character can borrow one. */
  readonly spareKeycodes: readonly number[];
  /** Where each keysym is, by group (0 and 1). */
  private readonly places = [new Map<number, CharacterKey>(), new Map<number, CharacterKey>()];
  private readonly perModifier: number;
  private readonly modifiers: Uint8Array;

  /**
   * `keysyms` holds `perKeycode` keysyms for each keycode from `minKeycode` on (GetKeyboardMapping's
   * reply); `modifiers` holds `perModifier` keycodes for each of Shift, Lock, Control, Mod1–Mod5, 0
   * where unused (GetModifierMapping's reply).
   */
  constructor(
    minKeycode: number,
    perKeycode: number,
    keysyms: Uint32Array,
    perModifier: number,
    modifiers: Uint8Array,
  ) {
    this.perModifier = perModifier;
    this.modifiers = modifiers;
    const count = perKeycode === 0 ? 0 : Math.floor(keysyms.length / perKeycode);
    const last = minKeycode + count;
    const column = (keycode: number, index: number) =>
      index < perKeycode ? keysyms[(keycode - minKeycode) * perKeycode + index]! : 0;
    let oneGroup = true;
    for (let keycode = minKeycode; keycode < last && oneGroup; keycode++) {
      const second = [column(keycode, 2), column(keycode, 3)];
      oneGroup =
        (second[0] === 0 && second[1] === 0) ||
        (second[0] === column(keycode, 0) && second[1] === column(keycode, 1));
    }
    // Fewest modifiers first, lowest keycode first: the plain place of a character wins.
    const passes: [group: 0 | 1, plain: number, shifted: number, level3: boolean][] = [[0, 0, 1, false]];
    if (oneGroup) passes.push([0, 4, 5, true]);
    passes.push([1, 2, 3, false]);
    for (const [group, plainColumn, shiftedColumn, level3] of passes) {
      const places = this.places[group]!;
      for (const shift of [false, true]) {
        for (let keycode = minKeycode; keycode < last; keycode++) {
          const plain = column(keycode, plainColumn);
          let shifted = column(keycode, shiftedColumn);
          // A letter listed alone means both cases (X11 protocol §5, "Keyboards"): upper is shifted.
          if (shifted === 0) shifted = upperCase(plain) ?? 0;
          const alphabetic = !level3 && shifted !== plain && upperCase(plain) === unicodeOf(shifted);
          const keysym = shift ? shifted : plain;
          if (keysym === 0) continue;
          const place = { keycode, shift, level3, alphabetic };
          // By its own keysym and, for a legacy one, by the character's Unicode keysym too.
          for (const name of [keysym, unicodeKeysym(keysym)]) {
            if (name !== undefined && !places.has(name)) places.set(name, place);
          }
        }
      }
    }
    this.shiftKeycode = this.places[0]!.get(SHIFT_L)?.keycode;
    this.level3Keycode = this.places[0]!.get(ISO_LEVEL3_SHIFT)?.keycode;
    const spare: number[] = [];
    for (let keycode = minKeycode; keycode < last; keycode++) {
      let empty = true;
      for (let index = 0; index < perKeycode && empty; index++) empty = column(keycode, index) === 0;
      if (empty) spare.push(keycode);
    }
    this.spareKeycodes = spare;
    this.level3Mask = MODIFIER_MASK.mod5;
    for (let modifier = 0; modifier < 8; modifier++) {
      if (this.keysOf(modifier).includes(this.level3Keycode ?? -1)) this.level3Mask = 1 << modifier;
    }
  }

  /**
   * Where `keysym` is typed in `group` (the server's active one, 0 unless told), or undefined
   * when the layout cannot type it there (or lacks the Shift or AltGr it needs).
   */
  locate(keysym: number, group = 0): CharacterKey | undefined {
    const place = this.places[group]?.get(keysym);
    if (!place) return undefined;
    if ((place.shift || place.alphabetic) && this.shiftKeycode === undefined) return undefined;
    if (place.level3 && this.level3Keycode === undefined) return undefined;
    return place;
  }

  /** The keycode of a key (a modifier, say) by its keysym, in group 1. */
  keycodeOf(keysym: number): number | undefined {
    return this.places[0]!.get(keysym)?.keycode;
  }

  /** The keycodes that set any of the modifier bits in `mask`. */
  modifierKeys(mask: number): number[] {
    const keycodes: number[] = [];
    for (let modifier = 0; modifier < 8; modifier++) {
      if (mask & (1 << modifier)) keycodes.push(...this.keysOf(modifier));
    }
    return keycodes;
  }

  private keysOf(modifier: number): number[] {
    const row = this.modifiers.subarray(modifier * this.perModifier, (modifier + 1) * this.perModifier);
    return [...row].filter((keycode) => keycode !== 0);
  }
}

/** A keysym by its character's Unicode keysym, when it is a legacy one. */
function unicodeOf(keysym: number): number {
  return unicodeKeysym(keysym) ?? keysym;
}

/** The upper-case (Unicode) keysym of a letter's keysym, when it has one of its own. */
function upperCase(legacyOrUnicode: number): number | undefined {
  const keysym = unicodeOf(legacyOrUnicode);
  const unicode = keysym >= 0x01000100 && keysym <= 0x0110ffff;
  const codePoint = keysym <= 0xff ? keysym : unicode ? keysym - 0x01000000 : undefined;
  if (codePoint === undefined) return undefined;
  const lower = String.fromCodePoint(codePoint);
  const upper = lower.toUpperCase();
  if (upper === lower || [...upper].length !== 1) return undefined;
  return keysymForCharacter(upper);
}

/**
 * What typing a character at `place` takes, given the modifiers the desktop has on (`state`, the
 * core SETofKEYMASK): Shift pressed or lifted for the character's level (Caps Lock turns a letter
 * key's levels over), AltGr pressed when it needs it, and Control and Alt lifted, which would turn
 * the character into a shortcut.
 */
export function modifiersFor(
  place: CharacterKey,
  state: number,
  level3Mask: number,
): { press: number; lift: number } {
  const lock = place.alphabetic && (state & MODIFIER_MASK.lock) !== 0;
  const wantShift = place.shift !== lock;
  const hasShift = (state & MODIFIER_MASK.shift) !== 0;
  const hasLevel3 = (state & level3Mask) !== 0;
  let press = 0;
  let lift = state & (MODIFIER_MASK.control | MODIFIER_MASK.mod1);
  if (wantShift && !hasShift) press |= MODIFIER_MASK.shift;
  if (!wantShift && hasShift) lift |= MODIFIER_MASK.shift;
  if (place.level3 && !hasLevel3) press |= level3Mask;
  if (!place.level3 && hasLevel3) lift |= level3Mask;
  // AltGr may be Mod1 on some layouts: never lift what the character needs.
  return { press, lift: lift & ~press & ~(place.level3 ? level3Mask : 0) };
}

/** The keyboard group the server has active: bits 13–14 of the core state (XKB). */
export function activeGroup(state: number): number {
  return (state >> 13) & 3;
}
