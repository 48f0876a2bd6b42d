/**
 * The live viewer's state machine and the words it shows: connecting → awaiting_consent →
 * negotiating → live ⇄ reconnecting, ending in ended, denied or failed. Each legal move is a named
 * transition; anything else throws. Reasons (a session end reason, a WebSocket close, a failed
 * peer connection) become sentences a technician can act on.
 */
import { CLOSE_CODES, stateMachine } from "@rd/protocol";

export const VIEWER_STATES = [
  "connecting",
  "awaiting_consent",
  "negotiating",
  "live",
  "reconnecting",
  "ended",
  "denied",
  "failed",
] as const;
export type ViewerState = (typeof VIEWER_STATES)[number];

const OPEN: readonly ViewerState[] = [
  "connecting",
  "awaiting_consent",
  "negotiating",
  "live",
  "reconnecting",
];

export const VIEWER_TRANSITIONS = {
  /** The worker says the agent is asking the person at the machine (session state awaiting_consent). */
  askConsent: { from: ["connecting"], to: "awaiting_consent" },
  /** The session is active: consent given or not needed; the agent's offer is on its way. */
  accept: { from: ["connecting", "awaiting_consent"], to: "negotiating" },
  /** The peer connection reached "connected" (W3C webrtc-pc §4.3.3 RTCPeerConnectionState). */
  connect: { from: ["negotiating", "reconnecting"], to: "live" },
  /** The peer connection went "disconnected" or "failed" after it had worked; the agent may restart ICE. */
  lose: { from: ["live"], to: "reconnecting" },
  /** The session ended: either side, an admin, the agent going offline, or the signaling link closing. */
  end: { from: OPEN, to: "ended" },
  /** The person at the machine said no, or nobody answered. */
  deny: { from: ["connecting", "awaiting_consent"], to: "denied" },
  /** It could not be set up or carried on: the signaling server refused us, or the peer connection died. */
  fail: { from: OPEN, to: "failed" },
} as const satisfies Record<string, { from: readonly ViewerState[]; to: ViewerState }>;

export type ViewerTransition = keyof typeof VIEWER_TRANSITIONS;

export class IllegalViewerTransition extends Error {
  readonly from: ViewerState;
  readonly transition: ViewerTransition;
  constructor(from: ViewerState, transition: ViewerTransition) {
    super(`The viewer cannot ${transition} while ${from.replace("_", " ")}`);
    this.name = "IllegalViewerTransition";
    this.from = from;
    this.transition = transition;
  }
}

const machine = stateMachine<ViewerState, ViewerTransition>(
  VIEWER_TRANSITIONS,
  (from, transition) => new IllegalViewerTransition(from, transition),
);
export const canTransition = machine.can;
/** The state `transition` leads to from `from`, or an IllegalViewerTransition. */
export const nextViewerState = machine.next;

export const isTerminalViewerState = (state: ViewerState) => !OPEN.includes(state);

/** What the state line says while the viewer is not in a terminal state. */
export const STATE_LINES: Record<ViewerState, string> = {
  connecting: "Connecting to the signaling server…",
  awaiting_consent: "Waiting for the person at the machine to accept…",
  negotiating: "Accepted. Setting up the connection…",
  live: "Live",
  reconnecting: "Connection lost; trying again…",
  ended: "The session has ended.",
  denied: "The request was denied.",
  failed: "The connection failed.",
};

/** Reasons the viewer itself gives for a terminal state (alongside SESSION_END_REASONS and close codes). */
export const VIEWER_REASONS = {
  /** The peer connection failed and no ICE restart brought it back in time. */
  peerFailed: "peer_failed",
  /** The agent never sent an offer after the session became active. */
  noOffer: "no_offer",
  /** The WebSocket could not be opened at all. */
  unreachable: "signaling_unreachable",
  /** This viewer ended the session (the worker's reason is ended_by_technician for whoever did). */
  endedByYou: "ended_by_you",
} as const;

const REASON_SENTENCES: Record<string, string> = {
  agent_offline: "The agent went offline.",
  denied_by_user: "The person at the machine denied the request.",
  consent_timeout: "Nobody answered the request in time.",
  ended_by_technician: "A technician in the session ended it.",
  ended_by_you: "You ended the session.",
  ended_by_agent: "The session was ended at the remote machine.",
  ended_by_admin: "An administrator ended the session.",
  viewer_left: "Everyone who could control the session left it, so it ended.",
  interrupted:
    "The session was interrupted: its signaling server went away and the remote machine or its viewers did not come back in time.",
  user_deactivated: "The account of the last technician in the session was deactivated.",
  desk_ended: "The interview desk has ended.",
  link_revoked: "The candidate's link to this desk was withdrawn, so the session ended.",
  left: "You left the session.",
  negotiation_failed: "The connection to the agent could not be set up.",
  agent_removed: "An administrator removed the agent.",
  peer_failed:
    "The connection to the agent failed and could not be restored. A firewall may block the direct path; the server may need a TURN relay.",
  no_offer: "The agent accepted but never started the video connection.",
  signaling_unreachable: "The signaling server cannot be reached. Check that it is running and reachable.",
  signaling_goingAway: "The signaling server is restarting; the session was cut off.",
  signaling_timeout: "The signaling server stopped hearing from this page (heartbeat timeout).",
  signaling_unauthenticated:
    "The signaling server refused this page's ticket: it expired or was used already.",
  signaling_forbidden: "The signaling server refused this session.",
  signaling_rateLimited:
    "The signaling server disconnected this page for sending too many messages, or because too many connections from this network were signing in at once.",
  signaling_messageTooBig:
    "The signaling server disconnected this page for sending a message that was too large.",
  signaling_protocolError:
    "This page and the signaling server disagree on the protocol. Reload to get the current version.",
  signaling_slowConsumer:
    "The signaling server disconnected this page because it read messages too slowly (a busy tab or congested network).",
  signaling_replaced: "This session was opened in another tab or window, so this one was disconnected.",
  signaling_sessionEnded: "The session is over; it may have ended before this page could join it.",
  signaling_lost: "The connection to the signaling server dropped (network or server down).",
  signaling_participantLeft: "You are no longer in this session.",
  signaling_revoked: "Your account was deactivated, so you were disconnected.",
  participant_left: "You left the session (in this or another tab).",
  participant_disconnected: "This page was away too long, so you were taken out of the session.",
  participant_denied_by_user: "The person at the machine did not let you join.",
  participant_consent_timeout: "Nobody at the machine answered your request to join.",
  participant_user_deactivated: "Your account was deactivated, so you were disconnected.",
  participant_session_over: "The session is over.",
  participant_interrupted: "The session was interrupted and you were taken out of it.",
  participant_link_revoked: "Your link to this desk was withdrawn by the interviewer.",
  not_a_participant: "You are not in this session (any more). Join it again to watch.",
};

/** A sentence for a terminal state's reason; the state's own line when the reason is unknown or absent. */
export function describeOutcome(state: ViewerState, reason: string | undefined): string {
  return (reason && REASON_SENTENCES[reason]) || STATE_LINES[state];
}

const CLOSE_CODE_NAMES = new Map<number, string>(
  Object.entries(CLOSE_CODES).map(([name, code]) => [code, name]),
);

/**
 * What a signaling WebSocket close means for the viewer: the reason code to show and whether the
 * session is over (ended) or broken (failed). 1006 is the browser's "closed abnormally": no close
 * frame arrived, so the network or the server went away. A participant taken out of the session
 * (4014) hears why in the close's reason (a participant leave reason).
 */
export function closeOutcome(code: number, reason = ""): { state: "ended" | "failed"; reason: string } {
  const name = CLOSE_CODE_NAMES.get(code);
  if (!name) return { state: "failed", reason: "signaling_lost" };
  if (code === CLOSE_CODES.participantLeft && REASON_SENTENCES[`participant_${reason}`]) {
    return { state: "ended", reason: `participant_${reason}` };
  }
  const ended = (
    [
      CLOSE_CODES.sessionEnded,
      CLOSE_CODES.replaced,
      CLOSE_CODES.participantLeft,
      CLOSE_CODES.revoked,
    ] as number[]
  ).includes(code);
  return { state: ended ? "ended" : "failed", reason: `signaling_${name}` };
}

/**
 * Closes after which the viewer's signaling link comes back by itself (with a new ticket) while
 * the peer connection carries on: the worker went away (restart, crash, deploy), the network
 * dropped, or the link went silent. Anything else is the worker's deliberate word.
 */
export const RESUMABLE_CLOSES: readonly number[] = [
  CLOSE_CODES.goingAway,
  1006,
  1011,
  CLOSE_CODES.timeout,
  CLOSE_CODES.slowConsumer,
];
