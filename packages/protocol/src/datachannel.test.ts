import { describe, expect, it } from "vitest";
import { DATA_LIMITS, parseControlMessage, parseInputMessage } from "./datachannel.ts";

const key = { ctrl: false, shift: true, alt: false, meta: false };

describe("input channel messages", () => {
  it.each([
    { type: "input/pointer", action: "move", x: 0.5, y: 0.25 },
    { type: "input/pointer", action: "down", x: 0, y: 1, button: 2 },
    // Out of range is the agent's to clamp, not a reason to drop the event.
    { type: "input/pointer", action: "up", x: -3, y: 7, button: 0 },
    { type: "input/wheel", dx: 0, dy: -3 },
    { type: "input/key", action: "down", code: "KeyA", key: "A", modifiers: key },
    { type: "input/special", combo: "ctrl-alt-del" },
    { type: "input/release-all" },
  ])("accepts $type", (message) => {
    expect(parseInputMessage(JSON.stringify(message))).toEqual({ ok: true, message });
  });

  it.each([
    ["not JSON", "{", /not JSON/],
    ["a binary frame", new Uint8Array([1, 2]), /binary/],
    ["an unknown type", JSON.stringify({ type: "input/teleport" }), /type/],
    ["a NaN coordinate", '{"type":"input/pointer","action":"move","x":"NaN","y":0}', /^x:/],
    [
      "an unknown button",
      JSON.stringify({ type: "input/pointer", action: "down", x: 0, y: 0, button: 7 }),
      /^button:/,
    ],
    ["a huge wheel step", JSON.stringify({ type: "input/wheel", dx: 0, dy: 1e9 }), /^dy:/],
    [
      "an oversize key code",
      JSON.stringify({ type: "input/key", action: "down", code: "K".repeat(100), key: "k", modifiers: key }),
      /^code:/,
    ],
    [
      "missing modifiers",
      JSON.stringify({ type: "input/key", action: "up", code: "KeyA", key: "a" }),
      /^modifiers:/,
    ],
    ["an extra field", JSON.stringify({ type: "input/release-all", evil: true }), /evil|Unrecognized/],
    ["an oversize frame", "x".repeat(DATA_LIMITS.maxMessageBytes + 1), /limited/],
  ])("refuses %s with a reason", (_what, frame, reason) => {
    const result = parseInputMessage(frame);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toMatch(reason);
  });
});

describe("control channel messages", () => {
  it("carries clipboard text up to the cap and refuses more", () => {
    const fits = { type: "control/clipboard", text: "x".repeat(DATA_LIMITS.clipboardChars) };
    expect(parseControlMessage(JSON.stringify(fits)).ok).toBe(true);
    const tooLong = { type: "control/clipboard", text: "x".repeat(DATA_LIMITS.clipboardChars + 1) };
    expect(parseControlMessage(JSON.stringify(tooLong))).toMatchObject({ ok: false, error: /^text:/ });
  });

  it("accepts screen, stats, quality and notices, and refuses a zero-size screen", () => {
    for (const message of [
      { type: "control/screen", width: 1920, height: 1080 },
      { type: "control/stats", codec: "VP8", targetKbps: 1500, fps: 30 },
      { type: "control/quality", preset: "low" },
      { type: "control/notice", level: "warning", message: "clipboard too large" },
    ]) {
      expect(parseControlMessage(JSON.stringify(message))).toEqual({ ok: true, message });
    }
    expect(parseControlMessage(JSON.stringify({ type: "control/screen", width: 0, height: 10 })).ok).toBe(
      false,
    );
  });
});
