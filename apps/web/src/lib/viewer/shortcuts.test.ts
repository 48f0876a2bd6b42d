import { describe, expect, it } from "vitest";
import { chordFor, SHORTCUT_HELP, shortcutFor } from "./shortcuts.ts";

const chord = (
  code: string,
  mods: Partial<Record<"ctrlKey" | "altKey" | "shiftKey" | "metaKey", boolean>>,
) => ({
  code,
  ctrlKey: false,
  altKey: false,
  shiftKey: false,
  metaKey: false,
  ...mods,
});
const all = { ctrlKey: true, altKey: true, shiftKey: true };

describe("shortcutFor", () => {
  it("takes Ctrl+Alt+Shift+<letter> for the viewer", () => {
    expect(shortcutFor(chord("KeyF", all))).toBe("fullscreen");
    expect(shortcutFor(chord("KeyV", all))).toBe("viewOnly");
    expect(shortcutFor(chord("KeyT", all))).toBe("focusToolbar");
    expect(shortcutFor(chord("KeyR", all))).toBe("takeControl");
    expect(shortcutFor(chord("KeyG", all))).toBe("giveControl");
  });

  it("leaves every other combination to the remote machine", () => {
    expect(shortcutFor(chord("KeyF", { ctrlKey: true, altKey: true }))).toBeNull();
    expect(shortcutFor(chord("KeyF", { ctrlKey: true, shiftKey: true }))).toBeNull();
    expect(shortcutFor(chord("KeyF", { ...all, metaKey: true }))).toBeNull();
    expect(shortcutFor(chord("KeyQ", all))).toBeNull();
    expect(shortcutFor(chord("Delete", { ctrlKey: true, altKey: true }))).toBeNull();
  });
});

describe("help", () => {
  it("names each chord the way it is typed", () => {
    expect(chordFor("fullscreen")).toBe("Ctrl+Alt+Shift+F");
    expect(SHORTCUT_HELP).toContain("Ctrl+Alt+Shift+S: Scale to fit / 1:1");
  });
});
