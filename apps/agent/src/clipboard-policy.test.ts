import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ClipboardPolicy, evaluateClipboard, luhnValid } from "./clipboard-policy.ts";

/** The interview default: paste in up to 4 KiB, nothing out, cards and ids blocked. */
const interview: ClipboardPolicy = {
  direction: "in",
  maxBytes: 4096,
  blockedPatterns: { cardNumbers: true, nationalIds: true, custom: [] },
};
const open: ClipboardPolicy = {
  direction: "both",
  maxBytes: 65_536,
  blockedPatterns: { cardNumbers: false, nationalIds: false, custom: [] },
};

describe("evaluateClipboard", () => {
  it("lets a paste in and keeps a copy out under the interview default, recording size and hash only", () => {
    const text = "function add(a, b) { return a + b; }";
    expect(evaluateClipboard(text, interview, "in")).toEqual({
      allowed: true,
      rule: "allowed",
      bytes: text.length,
      sha256: createHash("sha256").update(text).digest("hex"),
    });
    expect(evaluateClipboard(text, interview, "out")).toMatchObject({ allowed: false, rule: "direction" });
  });

  it("honours each direction", () => {
    const verdicts = (direction: ClipboardPolicy["direction"]) =>
      (["in", "out"] as const).map((flow) => evaluateClipboard("x", { ...open, direction }, flow).allowed);
    expect(verdicts("both")).toEqual([true, true]);
    expect(verdicts("in")).toEqual([true, false]);
    expect(verdicts("out")).toEqual([false, true]);
    expect(verdicts("none")).toEqual([false, false]);
  });

  it("caps the size in bytes, not characters", () => {
    expect(evaluateClipboard("é".repeat(2048), interview, "in")).toMatchObject({
      allowed: true,
      bytes: 4096,
    });
    expect(evaluateClipboard("é".repeat(2049), interview, "in")).toMatchObject({
      allowed: false,
      rule: "size",
    });
  });

  it("blocks a card number that passes the Luhn check, however it is grouped, and not other long numbers", () => {
    for (const card of [
      "4111111111111111",
      "4111 1111 1111 1111",
      "5500-0000-0000-0004",
      "pay 378282246310005 now",
    ]) {
      expect(evaluateClipboard(card, interview, "in"), card).toMatchObject({
        allowed: false,
        rule: "card_number",
      });
    }
    expect(evaluateClipboard("order 4111111111111112", interview, "in").allowed).toBe(true); // fails Luhn
    expect(evaluateClipboard("4111111111111111", open, "in").allowed).toBe(true); // rule off
    expect(luhnValid("79927398713")).toBe(false); // too short for a card, though its checksum is right
  });

  it("blocks national-id-like numbers", () => {
    for (const id of ["ssn 078-05-1120", "NINO AB 12 34 56 C", "id 123.456.789-09"]) {
      expect(evaluateClipboard(id, interview, "in"), id).toMatchObject({
        allowed: false,
        rule: "national_id",
      });
    }
    expect(evaluateClipboard("version 1.2.3", interview, "in").allowed).toBe(true);
  });

  it("blocks custom patterns by their index, and fails closed on one that backtracks forever", () => {
    const policy = {
      ...open,
      blockedPatterns: { ...open.blockedPatterns, custom: ["secret-\\d+", "(a+)+$"] },
    };
    expect(evaluateClipboard("the key is secret-42", policy, "in")).toMatchObject({
      allowed: false,
      rule: "custom:0",
    });
    expect(evaluateClipboard(`${"a".repeat(40)}!`, policy, "in")).toMatchObject({
      allowed: false,
      rule: "custom_timeout:1",
    });
    expect(evaluateClipboard("plain text", policy, "in").allowed).toBe(true);
  });
});
