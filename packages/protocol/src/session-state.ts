/**
 * The remote session's state machine (design flow 3): pending → awaiting_consent → active → ended,
 * with denied and failed as the other ends. Each legal move is a named transition; anything else is
 * an error, never a silent no-op. Shared by the API, the signaling worker and the dashboard.
 */
import { stateMachine } from "./state-table.ts";

export const SESSION_STATES = ["pending", "awaiting_consent", "active", "ended", "denied", "failed"] as const;
export type SessionState = (typeof SESSION_STATES)[number];

export const SESSION_TRANSITIONS = {
  /** The agent received the request and is asking the person at the machine. */
  askConsent: { from: ["pending"], to: "awaiting_consent" },
  /** Media may flow: consent given, or the agent's policy needs none (notify / unattended). */
  start: { from: ["pending", "awaiting_consent"], to: "active" },
  /** The person at the machine said no, or did not answer in time. */
  deny: { from: ["awaiting_consent"], to: "denied" },
  /** Either side, or an admin, ended it; or a peer left. */
  end: { from: ["pending", "awaiting_consent", "active"], to: "ended" },
  /** It could not be set up or carried on (negotiation failed, agent unreachable). */
  fail: { from: ["pending", "awaiting_consent", "active"], to: "failed" },
} as const satisfies Record<string, { from: readonly SessionState[]; to: SessionState }>;

export type SessionTransition = keyof typeof SESSION_TRANSITIONS;

export const TERMINAL_SESSION_STATES: readonly SessionState[] = ["ended", "denied", "failed"];

export class IllegalSessionTransition extends Error {
  readonly from: SessionState;
  readonly transition: SessionTransition;
  constructor(from: SessionState, transition: SessionTransition) {
    super(`A session that is ${from.replace("_", " ")} cannot ${transition}`);
    this.name = "IllegalSessionTransition";
    this.from = from;
    this.transition = transition;
  }
}

const sessionMachine = stateMachine<SessionState, SessionTransition>(
  SESSION_TRANSITIONS,
  (from, transition) => new IllegalSessionTransition(from, transition),
);

/** The state `transition` leads to from `from`, or an IllegalSessionTransition. */
export const nextSessionState = sessionMachine.next;

export const isTerminalSessionState = (state: SessionState) => TERMINAL_SESSION_STATES.includes(state);

/** Reasons a session ends; also the `end_reason` stored on the session. */
export const SESSION_END_REASONS = [
  "ended_by_technician",
  "ended_by_agent",
  "ended_by_admin",
  "agent_offline",
  "viewer_left",
  "denied_by_user",
  "consent_timeout",
  "negotiation_failed",
  "agent_removed",
  /** Its signaling worker went away and its agent or every participant did not come back in time. */
  "interrupted",
  /** The last participant who could take control was deactivated. */
  "user_deactivated",
  /** The interview desk it showed was terminated, expired or failed. */
  "desk_ended",
  /** The candidate's share link was revoked or replaced, and nobody else in it could drive. */
  "link_revoked",
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

/**
 * Which transition a reason for stopping a session takes: a consent answer denies, a session that
 * could not be set up fails, anything else ends it. The one place that decides, for every sender.
 */
export function stopTransition(reason: SessionEndReason): "end" | "deny" | "fail" {
  if (reason === "denied_by_user" || reason === "consent_timeout") return "deny";
  if (reason === "negotiation_failed") return "fail";
  return "end";
}
