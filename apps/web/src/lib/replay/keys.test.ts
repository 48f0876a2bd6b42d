import { describe, expect, it } from "vitest";
import { replayKeyAction } from "./keys.ts";

const key = (k: string, mods: Partial<{ ctrlKey: boolean; altKey: boolean; metaKey: boolean }> = {}) => ({
  key: k,
  ctrlKey: false,
  altKey: false,
  metaKey: false,
  ...mods,
});
const body = { tagName: "BODY" };

describe("replayKeyAction", () => {
  it.each([
    [" ", { kind: "toggle" }],
    ["ArrowLeft", { kind: "step", ms: -5000 }],
    ["ArrowRight", { kind: "step", ms: 5000 }],
    ["j", { kind: "step", ms: -10_000 }],
    ["K", { kind: "pause" }],
    ["l", { kind: "step", ms: 10_000 }],
  ])("maps %j to the player", (k, action) => {
    expect(replayKeyAction(key(k), body)).toEqual(action);
  });

  it("leaves other keys alone", () => {
    expect(replayKeyAction(key("x"), body)).toBeNull();
    expect(replayKeyAction(key("Enter"), body)).toBeNull();
  });

  it("does nothing while typing in a field", () => {
    for (const tagName of ["INPUT", "TEXTAREA", "SELECT"]) {
      expect(replayKeyAction(key(" "), { tagName })).toBeNull();
      expect(replayKeyAction(key("j"), { tagName })).toBeNull();
    }
    expect(replayKeyAction(key("l"), { tagName: "DIV", isContentEditable: true })).toBeNull();
  });

  it("leaves the browser's shortcuts to the browser", () => {
    expect(replayKeyAction(key("l", { ctrlKey: true }), body)).toBeNull();
    expect(replayKeyAction(key("ArrowLeft", { altKey: true }), body)).toBeNull();
    expect(replayKeyAction(key("k", { metaKey: true }), body)).toBeNull();
  });

  it("lets Space press a focused button, but the letters and arrows still work there", () => {
    expect(replayKeyAction(key(" "), { tagName: "BUTTON" })).toBeNull();
    expect(replayKeyAction(key(" "), { tagName: "A" })).toBeNull();
    expect(replayKeyAction(key("k"), { tagName: "BUTTON" })).toEqual({ kind: "pause" });
    expect(replayKeyAction(key(" "), { tagName: "DIV", role: "slider" })).toEqual({ kind: "toggle" });
  });
});
