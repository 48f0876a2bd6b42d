import { CLOSE_CODES, SESSION_END_REASONS } from "@rd/protocol";
import { describe, expect, it } from "vitest";
import {
  closeOutcome,
  describeOutcome,
  IllegalViewerTransition,
  isTerminalViewerState,
  nextViewerState,
  STATE_LINES,
  VIEWER_REASONS,
  VIEWER_STATES,
  VIEWER_TRANSITIONS,
  type ViewerState,
  type ViewerTransition,
} from "./viewer-state.ts";

const LEGAL: [ViewerState, ViewerTransition, ViewerState][] = [
  ["connecting", "askConsent", "awaiting_consent"],
  ["connecting", "accept", "negotiating"],
  ["awaiting_consent", "accept", "negotiating"],
  ["negotiating", "connect", "live"],
  ["live", "lose", "reconnecting"],
  ["reconnecting", "connect", "live"],
  ["connecting", "deny", "denied"],
  ["awaiting_consent", "deny", "denied"],
  ...(["connecting", "awaiting_consent", "negotiating", "live", "reconnecting"] as const).flatMap(
    (from) =>
      [
        [from, "end", "ended"],
        [from, "fail", "failed"],
      ] as [ViewerState, ViewerTransition, ViewerState][],
  ),
];

describe("viewer state machine", () => {
  it.each(LEGAL)("moves from %s by %s to %s", (from, transition, to) => {
    expect(nextViewerState(from, transition)).toBe(to);
  });

  const legal = new Set(LEGAL.map(([from, transition]) => `${from}:${transition}`));
  const illegal = VIEWER_STATES.flatMap((from) =>
    (Object.keys(VIEWER_TRANSITIONS) as ViewerTransition[])
      .filter((t) => !legal.has(`${from}:${t}`))
      .map((t) => [from, t] as const),
  );

  it.each(illegal)("refuses %s by %s", (from, transition) => {
    expect(() => nextViewerState(from, transition)).toThrow(IllegalViewerTransition);
  });

  it("treats exactly ended, denied and failed as terminal", () => {
    expect(VIEWER_STATES.filter(isTerminalViewerState)).toEqual(["ended", "denied", "failed"]);
  });

  it("has a state line for every state", () => {
    for (const state of VIEWER_STATES) expect(STATE_LINES[state]).toMatch(/\S/);
  });
});

describe("describeOutcome", () => {
  it("says what happened in the words the technician needs", () => {
    expect(describeOutcome("ended", "agent_offline")).toBe("The agent went offline.");
    expect(describeOutcome("denied", "denied_by_user")).toBe("The person at the machine denied the request.");
    expect(describeOutcome("denied", "consent_timeout")).toBe("Nobody answered the request in time.");
  });

  it("has a sentence for every session end reason and every reason of its own", () => {
    for (const reason of [...SESSION_END_REASONS, ...Object.values(VIEWER_REASONS)]) {
      expect(describeOutcome("ended", reason)).not.toBe(STATE_LINES.ended);
    }
  });

  it("falls back to the state's own line for an unknown or missing reason", () => {
    expect(describeOutcome("failed", "something_new")).toBe(STATE_LINES.failed);
    expect(describeOutcome("ended", undefined)).toBe(STATE_LINES.ended);
  });
});

describe("closeOutcome", () => {
  it("has an honest sentence for every close code the worker uses", () => {
    for (const code of Object.values(CLOSE_CODES)) {
      const { state, reason } = closeOutcome(code);
      expect(describeOutcome(state, reason)).not.toBe(STATE_LINES[state]);
    }
  });

  it("counts a session that ended or moved to another tab as ended, everything else as failed", () => {
    expect(closeOutcome(CLOSE_CODES.sessionEnded)).toEqual({
      state: "ended",
      reason: "signaling_sessionEnded",
    });
    expect(closeOutcome(CLOSE_CODES.replaced).state).toBe("ended");
    expect(closeOutcome(CLOSE_CODES.unauthenticated)).toEqual({
      state: "failed",
      reason: "signaling_unauthenticated",
    });
  });

  it("reads an abnormal close (no close frame) as a lost connection", () => {
    expect(closeOutcome(1006)).toEqual({ state: "failed", reason: "signaling_lost" });
    expect(describeOutcome("failed", "signaling_lost")).toMatch(/dropped/);
  });
});
