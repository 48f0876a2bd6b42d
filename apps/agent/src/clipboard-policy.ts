/**
 * Decides whether a piece of clipboard text may cross between a viewer and the desktop, under a
 * clipboard policy (a desk template's, or an agent's): the direction, a size cap, and blocked
 * patterns (card numbers that pass the Luhn check, national-id-like numbers, custom regexes).
 * The verdict carries what the audit trail may keep: the size, a SHA-256 and the rule, never the
 * text. Enforcing it on the agent's clipboard path is the next step; this is the rule itself.
 *
 * Custom patterns come from interviewers, so one could backtrack for minutes on a few kilobytes:
 * each runs in a vm context with a time limit, and a pattern that times out blocks the text
 * (failing closed) with its own rule name.
 */
import { createHash } from "node:crypto";
import { createContext, Script } from "node:vm";

export type ClipboardDirection = "both" | "in" | "out" | "none";

export interface ClipboardPolicy {
  direction: ClipboardDirection;
  maxBytes: number;
  blockedPatterns: { cardNumbers: boolean; nationalIds: boolean; custom: readonly string[] };
}

/** `in`: from the viewer into the desktop (a paste); `out`: from the desktop to the viewer (a copy). */
export type ClipboardFlow = "in" | "out";

export type ClipboardVerdict = {
  allowed: boolean;
  /** What decided: "allowed", "direction", "size", "card_number", "national_id", "custom:<n>", "custom_timeout:<n>". */
  rule: string;
  bytes: number;
  sha256: string;
};

/** Long enough for any sane pattern on 64 KiB; short enough that a hostile one costs nothing. */
const CUSTOM_PATTERN_BUDGET_MS = 50;

// 13–19 digits, optionally grouped by single spaces or dashes, as cards are written.
const CARD_CANDIDATE = /(?<!\d)\d(?:[ -]?\d){12,18}(?!\d)/g;
// National-id-like numbers: US SSN (123-45-6789), UK NINO (AB123456C), and 9–12 digit ids in groups.
const NATIONAL_ID = [
  /(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)/,
  /\b[A-CEGHJ-PR-TW-Z]{2}\s?\d{2}\s?\d{2}\s?\d{2}\s?[A-D]\b/i,
  /(?<!\d)\d{3}[ .-]\d{3}[ .-]\d{3}(?:[ .-]\d{2,3})?(?!\d)/,
];

/** The Luhn checksum (ISO/IEC 7812-1 annex B) every payment card number satisfies. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = digits.charCodeAt(digits.length - 1 - i) - 48;
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return digits.length >= 13 && sum % 10 === 0;
}

function containsCardNumber(text: string): boolean {
  for (const match of text.matchAll(CARD_CANDIDATE)) {
    if (luhnValid(match[0].replace(/[ -]/g, ""))) return true;
  }
  return false;
}

function directionAllows(direction: ClipboardDirection, flow: ClipboardFlow): boolean {
  return direction === "both" || direction === flow;
}

/** Runs one custom pattern under the time budget: true (matches), false, or "timeout". */
function customMatches(pattern: string, text: string): boolean | "timeout" {
  const context = createContext({ pattern, text });
  try {
    return new Script("new RegExp(pattern, 'u').test(text)").runInContext(context, {
      timeout: CUSTOM_PATTERN_BUDGET_MS,
    }) as boolean;
  } catch (error) {
    if ((error as { code?: string }).code === "ERR_SCRIPT_EXECUTION_TIMEOUT") return "timeout";
    return false; // a pattern that does not compile (templates validate them) blocks nothing
  }
}

export function evaluateClipboard(
  text: string,
  policy: ClipboardPolicy,
  flow: ClipboardFlow,
): ClipboardVerdict {
  const bytes = Buffer.byteLength(text, "utf8");
  const sha256 = createHash("sha256").update(text, "utf8").digest("hex");
  const verdict = (allowed: boolean, rule: string): ClipboardVerdict => ({ allowed, rule, bytes, sha256 });
  if (!directionAllows(policy.direction, flow)) return verdict(false, "direction");
  if (bytes > policy.maxBytes) return verdict(false, "size");
  const { cardNumbers, nationalIds, custom } = policy.blockedPatterns;
  if (cardNumbers && containsCardNumber(text)) return verdict(false, "card_number");
  if (nationalIds && NATIONAL_ID.some((pattern) => pattern.test(text))) return verdict(false, "national_id");
  for (const [index, pattern] of custom.entries()) {
    const matched = customMatches(pattern, text);
    if (matched === "timeout") return verdict(false, `custom_timeout:${index}`);
    if (matched) return verdict(false, `custom:${index}`);
  }
  return verdict(true, "allowed");
}
