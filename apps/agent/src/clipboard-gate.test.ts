import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { type ClipboardReport, createClipboardGate } from "./clipboard-gate.ts";
import type { ClipboardPolicy } from "./clipboard-policy.ts";

const PID = "22222222-2222-4222-8222-222222222222";
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** Both ways, a generous cap, no patterns: only what a test changes blocks. */
const open: ClipboardPolicy = {
  direction: "both",
  maxBytes: 65_536,
  blockedPatterns: { cardNumbers: false, nationalIds: false, custom: [] },
};

function gate(policy: ClipboardPolicy | undefined) {
  const reports: ClipboardReport[] = [];
  return { gate: createClipboardGate(policy, (report) => reports.push(report)), reports };
}

describe("the clipboard gate", () => {
  it("lets everything through unreported when the agent has no policy", () => {
    const { gate: g, reports } = gate(undefined);
    expect(g.decide("in", "4111 1111 1111 1111", PID)).toEqual({ allowed: true });
    expect(g.decide("out", "x".repeat(100_000))).toEqual({ allowed: true });
    expect(reports).toEqual([]);
  });

  it.each([
    ["both", true, true],
    ["in", true, false],
    ["out", false, true],
    ["none", false, false],
  ] as const)("under direction %s lets pastes in: %s, copies out: %s", (direction, pasteOk, copyOk) => {
    const { gate: g, reports } = gate({ ...open, direction });
    expect(g.decide("in", "hello", PID).allowed).toBe(pasteOk);
    expect(g.decide("out", "hello").allowed).toBe(copyOk);
    expect(reports.map((r) => [r.flow, r.allowed, r.rule])).toEqual([
      ["in", pasteOk, pasteOk ? "allowed" : "direction"],
      ["out", copyOk, copyOk ? "allowed" : "direction"],
    ]);
  });

  it("says a blocked direction in words for each way", () => {
    const { gate: g } = gate({ ...open, direction: "none" });
    expect(g.decide("in", "hello")).toEqual({
      allowed: false,
      rule: "direction",
      why: "Pasting into the remote desktop is not allowed.",
    });
    expect(g.decide("out", "hello")).toMatchObject({
      why: "Copying from the remote desktop is not allowed.",
    });
  });

  it("blocks a text over the size cap, naming the cap", () => {
    const { gate: g, reports } = gate({ ...open, maxBytes: 4096 });
    const text = "é".repeat(2049); // 4098 bytes in UTF-8, though only 2049 characters
    expect(g.decide("in", text, PID)).toEqual({
      allowed: false,
      rule: "size",
      why: "That text is over the 4 KiB limit; it was not pasted.",
    });
    expect(reports).toEqual([
      { flow: "in", allowed: false, rule: "size", bytes: 4098, sha256: sha256(text), participantId: PID },
    ]);
    expect(gate({ ...open, maxBytes: 1000 }).gate.decide("out", "x".repeat(1001))).toMatchObject({
      why: "The remote clipboard's text is over the 1,000-byte limit; it was not shared.",
    });
  });

  it("blocks a Luhn-valid card number only when the policy says so", () => {
    const text = "card: 4111 1111 1111 1111, exp 12/30";
    expect(gate(open).gate.decide("in", text).allowed).toBe(true);
    const { gate: g, reports } = gate({
      ...open,
      blockedPatterns: { ...open.blockedPatterns, cardNumbers: true },
    });
    expect(g.decide("in", text, PID)).toEqual({
      allowed: false,
      rule: "card_number",
      why: "That text looks like a card number; it was not pasted.",
    });
    expect(g.decide("in", "order 4111 1111 1111 1112", PID).allowed).toBe(true); // fails the Luhn check
    expect(reports.map((r) => r.rule)).toEqual(["card_number", "allowed"]);
  });

  it("blocks a national id number only when the policy says so", () => {
    const text = "SSN 123-45-6789";
    expect(gate(open).gate.decide("out", text).allowed).toBe(true);
    const { gate: g } = gate({ ...open, blockedPatterns: { ...open.blockedPatterns, nationalIds: true } });
    expect(g.decide("out", text)).toEqual({
      allowed: false,
      rule: "national_id",
      why: "The remote clipboard's text looks like a national id number; it was not shared.",
    });
  });

  it("blocks what a custom pattern matches, naming the pattern by its place", () => {
    const { gate: g, reports } = gate({
      ...open,
      blockedPatterns: { ...open.blockedPatterns, custom: ["^never$", "interview-[0-9]+"] },
    });
    expect(g.decide("in", "see interview-42 answers", PID)).toEqual({
      allowed: false,
      rule: "custom:1",
      why: "That text matches a pattern the clipboard rules block; it was not pasted.",
    });
    expect(g.decide("in", "interview notes", PID).allowed).toBe(true);
    expect(reports.map((r) => [r.allowed, r.rule])).toEqual([
      [false, "custom:1"],
      [true, "allowed"],
    ]);
  });

  it("reports size, hash and rule, and never the text", () => {
    const { gate: g, reports } = gate({
      ...open,
      blockedPatterns: { ...open.blockedPatterns, cardNumbers: true },
    });
    const secret = "4111111111111111";
    g.decide("in", secret, PID);
    g.decide("out", "public text");
    for (const report of reports) {
      expect(Object.keys(report).sort()).toEqual(
        report.flow === "in"
          ? ["allowed", "bytes", "flow", "participantId", "rule", "sha256"]
          : ["allowed", "bytes", "flow", "rule", "sha256"],
      );
    }
    const wire = JSON.stringify(reports);
    expect(wire).not.toContain(secret);
    expect(wire).not.toContain("public text");
    expect(reports[0]).toMatchObject({ bytes: 16, sha256: sha256(secret) });
  });

  it("decides on an emptied clipboard without reporting it: nothing crossed", () => {
    const { gate: g, reports } = gate({ ...open, direction: "in" });
    expect(g.decide("out", "")).toMatchObject({ allowed: false, rule: "direction" });
    expect(g.decide("in", "")).toEqual({ allowed: true });
    expect(reports).toEqual([]);
  });
});
