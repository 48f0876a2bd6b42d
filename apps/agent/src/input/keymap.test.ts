// nut-js loads its native code only on first use, so importing its enum here never opens a display.
import { Key } from "@nut-tree-fork/nut-js";
import { describe, expect, it } from "vitest";
import { KEY_CODES, keyForCode, UNSUPPORTED_CODES } from "./keymap.ts";
import { KEYSYMS, parseKeysyms } from "./x-keymap.ts";

describe("keyForCode", () => {
  it.each(KEY_CODES)("maps %s to a nut-js key with a known X keysym", (code) => {
    const key = keyForCode(code);
    expect(key).toBeDefined();
    expect(typeof Key[key!]).toBe("number");
    expect(KEYSYMS[key!]).toMatch(/^\w+$/);
  });

  it.each([
    ["KeyA", "A"],
    ["Digit1", "Num1"],
    ["Enter", "Return"],
    ["NumpadEnter", "Enter"],
    ["NumpadDecimal", "Decimal"],
    ["NumpadAdd", "Add"],
    ["ShiftRight", "RightShift"],
    ["MetaLeft", "LeftSuper"],
    ["PrintScreen", "Print"],
    ["Backquote", "Grave"],
    ["F24", "F24"],
  ])("maps %s to %s", (code, key) => {
    expect(keyForCode(code)).toBe(key);
  });

  it("covers a standard 104-key US keyboard but for Pause and ContextMenu", () => {
    const codes = [
      ...[..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"].map((c) => `Key${c}`),
      ...[..."0123456789"].flatMap((d) => [`Digit${d}`, `Numpad${d}`]),
      ...Array.from({ length: 12 }, (_, i) => `F${i + 1}`),
      ...["Backquote", "Minus", "Equal", "BracketLeft", "BracketRight", "Backslash", "Semicolon", "Quote"],
      ...["Comma", "Period", "Slash", "Space", "Tab", "Enter", "Backspace", "Escape", "CapsLock"],
      ...["ShiftLeft", "ShiftRight", "ControlLeft", "ControlRight", "AltLeft", "AltRight", "MetaLeft"],
      ...["MetaRight", "PrintScreen", "ScrollLock", "Insert", "Delete", "Home", "End", "PageUp", "PageDown"],
      ...["ArrowUp", "ArrowDown", "ArrowLeft", "ArrowRight", "NumLock", "NumpadDivide", "NumpadMultiply"],
      ...["NumpadSubtract", "NumpadAdd", "NumpadEnter", "NumpadDecimal"],
    ];
    expect(codes.filter((code) => keyForCode(code) === undefined)).toEqual([]);
  });

  it.each([
    ...Object.keys(UNSUPPORTED_CODES),
    "Lang1",
    "NotAKey",
    "",
    "toString",
    "__proto__",
    "constructor",
  ])("returns undefined for %j", (code) => {
    expect(keyForCode(code)).toBeUndefined();
  });
});

describe("parseKeysyms", () => {
  it("reads keysym names from xmodmap -pk output and skips NoSymbol", () => {
    const output = [
      "There are 7 KeySyms per KeyCode; KeyCodes range from 8 to 255.",
      "",
      "    KeyCode\tKeysym (Keysym)\t...",
      "      8\t",
      "     10    \t0x0031 (1)\t0x0021 (exclam)\t0x0031 (1)\t0x0021 (exclam)\t",
      "     36    \t0xff0d (Return)\t0x0000 (NoSymbol)\t0xff0d (Return)\t",
      "    172    \t0x1008ff14 (XF86AudioPlay)\t",
    ].join("\n");
    expect([...parseKeysyms(output)].sort()).toEqual(["1", "Return", "XF86AudioPlay", "exclam"]);
    // Keycodes lent to characters are left out.
    expect([...parseKeysyms(output, new Set([10, 172]))]).toEqual(["Return"]);
  });
});
