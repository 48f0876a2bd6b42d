/**
 * The clipboard gate of one session: its clipboard policy (from the session's request), the
 * verdict on each text about to cross (clipboard-policy.ts), the words a person reads when one is
 * blocked, and a report of each decision for the audit trail: size, SHA-256 and rule, never the
 * text. Without a policy everything crosses unreported, as before policies existed.
 */
import {
  type ClipboardFlow,
  type ClipboardPolicy,
  type ClipboardVerdict,
  evaluateClipboard,
} from "./clipboard-policy.ts";

/** One decision as the worker records it (`clipboard/event` without its envelope). */
export interface ClipboardReport {
  flow: ClipboardFlow;
  allowed: boolean;
  rule: string;
  bytes: number;
  sha256: string;
  /** The viewer who pasted; copies go to every viewer and name none. */
  participantId?: string;
}

export type ClipboardDecision =
  | { allowed: true }
  | {
      allowed: false;
      rule: string;
      /** Why, in words for the viewer; never the text itself. */
      why: string;
    };

export interface ClipboardGate {
  /** Whether `text` may cross (`in`: a paste by `participantId`; `out`: a copy to the viewers). */
  decide(flow: ClipboardFlow, text: string, participantId?: string): ClipboardDecision;
}

export function createClipboardGate(
  policy: ClipboardPolicy | undefined,
  report: (decision: ClipboardReport) => void,
): ClipboardGate {
  return {
    decide(flow, text, participantId) {
      if (!policy) return { allowed: true };
      const verdict = evaluateClipboard(text, policy, flow);
      // An emptied clipboard (or one holding an image) carries nothing to audit.
      if (verdict.bytes > 0) report(reportOf(flow, verdict, participantId));
      if (verdict.allowed) return { allowed: true };
      return { allowed: false, rule: verdict.rule, why: blockedWords(verdict.rule, flow, policy) };
    },
  };
}

function reportOf(flow: ClipboardFlow, verdict: ClipboardVerdict, participantId?: string): ClipboardReport {
  const { allowed, rule, bytes, sha256 } = verdict;
  return { flow, allowed, rule, bytes, sha256, ...(participantId ? { participantId } : {}) };
}

/** Whose text it is and what became of it, as the sentence about a blocked text says. */
const SUBJECT: Record<ClipboardFlow, { text: string; outcome: string }> = {
  in: { text: "That text", outcome: "it was not pasted" },
  out: { text: "The remote clipboard's text", outcome: "it was not shared" },
};

/** The sentence for each rule that blocks, by the rule's kind (`custom:3` is a `custom`). */
const BLOCKED: Record<string, (flow: ClipboardFlow, policy: ClipboardPolicy) => string> = {
  direction: (flow) =>
    flow === "in"
      ? "Pasting into the remote desktop is not allowed."
      : "Copying from the remote desktop is not allowed.",
  size: (flow, policy) =>
    `${SUBJECT[flow].text} is over the ${sizeLimit(policy.maxBytes)} limit; ${SUBJECT[flow].outcome}.`,
  card_number: (flow) => `${SUBJECT[flow].text} looks like a card number; ${SUBJECT[flow].outcome}.`,
  national_id: (flow) => `${SUBJECT[flow].text} looks like a national id number; ${SUBJECT[flow].outcome}.`,
  custom: (flow) =>
    `${SUBJECT[flow].text} matches a pattern the clipboard rules block; ${SUBJECT[flow].outcome}.`,
  // The pattern ran out of time on this text; blocking is the safe answer.
  custom_timeout: (flow) =>
    `${SUBJECT[flow].text} could not be checked against the clipboard rules in time; ${SUBJECT[flow].outcome}.`,
};

function blockedWords(rule: string, flow: ClipboardFlow, policy: ClipboardPolicy): string {
  const words = BLOCKED[rule.split(":")[0] ?? ""];
  return words
    ? words(flow, policy)
    : `${SUBJECT[flow].text} is not allowed by the clipboard rules; ${SUBJECT[flow].outcome}.`;
}

/** "4 KiB", "1 MiB", or "1,000-byte" for a limit that is not a round binary size. */
function sizeLimit(bytes: number): string {
  if (bytes % 1_048_576 === 0) return `${bytes / 1_048_576} MiB`;
  if (bytes % 1024 === 0) return `${bytes / 1024} KiB`;
  return `${bytes.toLocaleString("en")}-byte`;
}
