/**
 * The map from a viewer's physical key (`KeyboardEvent.code`, per the W3C "UI Events KeyboardEvent
 * code Values" spec: https://www.w3.org/TR/uievents-code/) to the nut-js `Key` the agent presses.
 *
 * Keys are named by their nut-js `Key` member name, not its numeric value, so this module (and the
 * input handler above it) never loads nut-js's native code; the injector resolves names to values.
 */
import type { Key } from "@nut-tree-fork/nut-js";

/** A nut-js `Key` member name, e.g. "LeftShift". */
export type KeyName = keyof typeof Key;

const CODES = {
  // Writing system keys (US positions).
  KeyA: "A",
  KeyB: "B",
  KeyC: "C",
  KeyD: "D",
  KeyE: "E",
  KeyF: "F",
  KeyG: "G",
  KeyH: "H",
  KeyI: "I",
  KeyJ: "J",
  KeyK: "K",
  KeyL: "L",
  KeyM: "M",
  KeyN: "N",
  KeyO: "O",
  KeyP: "P",
  KeyQ: "Q",
  KeyR: "R",
  KeyS: "S",
  KeyT: "T",
  KeyU: "U",
  KeyV: "V",
  KeyW: "W",
  KeyX: "X",
  KeyY: "Y",
  KeyZ: "Z",
  Digit0: "Num0",
  Digit1: "Num1",
  Digit2: "Num2",
  Digit3: "Num3",
  Digit4: "Num4",
  Digit5: "Num5",
  Digit6: "Num6",
  Digit7: "Num7",
  Digit8: "Num8",
  Digit9: "Num9",
  Backquote: "Grave",
  Minus: "Minus",
  Equal: "Equal",
  BracketLeft: "LeftBracket",
  BracketRight: "RightBracket",
  Backslash: "Backslash",
  Semicolon: "Semicolon",
  Quote: "Quote",
  Comma: "Comma",
  Period: "Period",
  Slash: "Slash",
  Space: "Space",
  Tab: "Tab",
  // The main Enter key is X's Return; nut-js's `Enter` is the keypad's.
  Enter: "Return",
  Backspace: "Backspace",
  Escape: "Escape",

  // Modifiers and locks. Browsers before 2017 (and Firefox until 118) said OSLeft/OSRight for Meta.
  ShiftLeft: "LeftShift",
  ShiftRight: "RightShift",
  ControlLeft: "LeftControl",
  ControlRight: "RightControl",
  AltLeft: "LeftAlt",
  AltRight: "RightAlt",
  MetaLeft: "LeftSuper",
  MetaRight: "RightSuper",
  OSLeft: "LeftSuper",
  OSRight: "RightSuper",
  CapsLock: "CapsLock",
  NumLock: "NumLock",
  ScrollLock: "ScrollLock",

  // Control pad and arrows.
  PrintScreen: "Print",
  Insert: "Insert",
  Delete: "Delete",
  Home: "Home",
  End: "End",
  PageUp: "PageUp",
  PageDown: "PageDown",
  ArrowUp: "Up",
  ArrowDown: "Down",
  ArrowLeft: "Left",
  ArrowRight: "Right",

  // Function keys. F13–F24 have no keycode in most X layouts; the injector drops them there.
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

  // Numpad.
  Numpad0: "NumPad0",
  Numpad1: "NumPad1",
  Numpad2: "NumPad2",
  Numpad3: "NumPad3",
  Numpad4: "NumPad4",
  Numpad5: "NumPad5",
  Numpad6: "NumPad6",
  Numpad7: "NumPad7",
  Numpad8: "NumPad8",
  Numpad9: "NumPad9",
  NumpadDecimal: "Decimal",
  NumpadAdd: "Add",
  NumpadSubtract: "Subtract",
  NumpadMultiply: "Multiply",
  NumpadDivide: "Divide",
  NumpadEnter: "Enter",
  NumpadEqual: "NumPadEqual",

  // Media keys; the Volume* spellings are Firefox's before version 49.
  AudioVolumeMute: "AudioMute",
  AudioVolumeDown: "AudioVolDown",
  AudioVolumeUp: "AudioVolUp",
  VolumeMute: "AudioMute",
  VolumeDown: "AudioVolDown",
  VolumeUp: "AudioVolUp",
  MediaPlayPause: "AudioPlay",
  MediaStop: "AudioStop",
  MediaTrackNext: "AudioNext",
  MediaTrackPrevious: "AudioPrev",
} as const satisfies Record<string, KeyName>;

/** The nut-js keys this map can produce; the injector needs to know exactly these. */
export type MappedKey = (typeof CODES)[keyof typeof CODES];

/** Every `KeyboardEvent.code` the agent can press. */
export const KEY_CODES = Object.keys(CODES) as (keyof typeof CODES)[];

/**
 * Codes a keyboard has but the agent cannot press, with the reason, so a dropped key is explained
 * in the log rather than a mystery. (Other unknown codes, e.g. IME or Japanese keys, are just unknown.)
 */
export const UNSUPPORTED_CODES: Record<string, string> = {
  Pause: "nut-js maps Key.Pause to nothing on Linux",
  ContextMenu: "nut-js's Linux backend has no Menu key",
  IntlBackslash: "nut-js has no Key for the ISO key left of Z",
  IntlRo: "nut-js has no Key for the JIS Ro key",
  IntlYen: "nut-js has no Key for the JIS Yen key",
  NumpadComma: "nut-js has no Key for the numpad comma",
  Fn: "the Fn key never reaches the operating system",
};

/** The nut-js key for a physical key code, or undefined when the agent cannot press it. */
export function keyForCode(code: string): MappedKey | undefined {
  return Object.hasOwn(CODES, code) ? CODES[code as keyof typeof CODES] : undefined;
}
