/**
 * Which keys the X server's current keyboard layout can actually produce.
 *
 * nut-js (libnut) presses a key by looking up its X keysym's keycode and faking that keycode with
 * XTest. When the layout has no keycode for the keysym (F13 on a standard layout, Alt_R on a German
 * one where that key is AltGr, `grave` where it is a dead key), XTest answers BadValue and Xlib's
 * default error handler exits the whole process. So the injector asks this module first, and a key
 * the layout lacks is dropped instead of taking the agent down.
 */
import type { MappedKey } from "./keymap.ts";
import { runXClient } from "./x-server-utils.ts";

/** The X keysym libnut presses for each key (read from libnut's tables and checked with xev). */
export const KEYSYMS: Record<MappedKey, string> = {
  A: "a",
  B: "b",
  C: "c",
  D: "d",
  E: "e",
  F: "f",
  G: "g",
  H: "h",
  I: "i",
  J: "j",
  K: "k",
  L: "l",
  M: "m",
  N: "n",
  O: "o",
  P: "p",
  Q: "q",
  R: "r",
  S: "s",
  T: "t",
  U: "u",
  V: "v",
  W: "w",
  X: "x",
  Y: "y",
  Z: "z",
  Num0: "0",
  Num1: "1",
  Num2: "2",
  Num3: "3",
  Num4: "4",
  Num5: "5",
  Num6: "6",
  Num7: "7",
  Num8: "8",
  Num9: "9",
  Grave: "grave",
  Minus: "minus",
  Equal: "equal",
  LeftBracket: "bracketleft",
  RightBracket: "bracketright",
  Backslash: "backslash",
  Semicolon: "semicolon",
  Quote: "apostrophe",
  Comma: "comma",
  Period: "period",
  Slash: "slash",
  Space: "space",
  Tab: "Tab",
  Return: "Return",
  Backspace: "BackSpace",
  Escape: "Escape",
  LeftShift: "Shift_L",
  RightShift: "Shift_R",
  LeftControl: "Control_L",
  RightControl: "Control_R",
  LeftAlt: "Alt_L",
  RightAlt: "Alt_R",
  LeftSuper: "Super_L",
  RightSuper: "Super_R",
  CapsLock: "Caps_Lock",
  NumLock: "Num_Lock",
  ScrollLock: "Scroll_Lock",
  Print: "Print",
  Insert: "Insert",
  Delete: "Delete",
  Home: "Home",
  End: "End",
  PageUp: "Prior",
  PageDown: "Next",
  Up: "Up",
  Down: "Down",
  Left: "Left",
  Right: "Right",
  F1: "F1",
  F2: "F2",
  F3: "F3",
  F4: "F4",
  F5: "F5",
  F6: "F6",
  F7: "F7",
  F8: "F8",
  F9: "F9",
  F10: "F10",
  F11: "F11",
  F12: "F12",
  F13: "F13",
  F14: "F14",
  F15: "F15",
  F16: "F16",
  F17: "F17",
  F18: "F18",
  F19: "F19",
  F20: "F20",
  F21: "F21",
  F22: "F22",
  F23: "F23",
  F24: "F24",
  NumPad0: "KP_0",
  NumPad1: "KP_1",
  NumPad2: "KP_2",
  NumPad3: "KP_3",
  NumPad4: "KP_4",
  NumPad5: "KP_5",
  NumPad6: "KP_6",
  NumPad7: "KP_7",
  NumPad8: "KP_8",
  NumPad9: "KP_9",
  Decimal: "KP_Decimal",
  Add: "KP_Add",
  Subtract: "KP_Subtract",
  Multiply: "KP_Multiply",
  Divide: "KP_Divide",
  Enter: "KP_Enter",
  NumPadEqual: "KP_Equal",
  AudioMute: "XF86AudioMute",
  AudioVolDown: "XF86AudioLowerVolume",
  AudioVolUp: "XF86AudioRaiseVolume",
  AudioPlay: "XF86AudioPlay",
  AudioStop: "XF86AudioStop",
  AudioNext: "XF86AudioNext",
  AudioPrev: "XF86AudioPrev",
};

/**
 * The keysym names the layout on `display` has a keycode for, read with `xmodmap -pk`. xmodmap is
 * also a real X client, so a failure here (server gone, no authorization) is found before nut-js
 * would open the display itself and crash on the same problem.
 */
export async function readKeysyms(display: string, skipped?: ReadonlySet<number>): Promise<Set<string>> {
  return parseKeysyms(await runXClient("xmodmap", display, ["-pk"]), skipped);
}

/**
 * Keysym names from `xmodmap -pk` output, where each keycode's line lists them as `0xff0d (Return)`.
 * `skipped`: keycodes left out (the ones x-typist.ts lends to characters: one may be bound to
 * another character at any moment, and a key pressed by its keysym must not be one of them).
 */
export function parseKeysyms(xmodmapOutput: string, skipped?: ReadonlySet<number>): Set<string> {
  const names = new Set<string>();
  for (const line of xmodmapOutput.split("\n")) {
    const keycode = /^\s*(\d+)\s/.exec(line)?.[1];
    if (keycode === undefined || skipped?.has(Number(keycode))) continue;
    for (const match of line.matchAll(/0x[0-9a-f]+ \(([^)\s]+)\)/gi)) {
      const name = match[1];
      if (name && name !== "NoSymbol") names.add(name);
    }
  }
  return names;
}
