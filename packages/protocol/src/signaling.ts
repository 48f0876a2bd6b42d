/**
 * The signaling protocol: every message between browsers, agents and the signaling worker, as one zod
 * discriminated union on `type` ("domain/action"). Version 1; the version travels in `presence/hello`,
 * the first message of every connection, which also carries the credentials (never the URL, which
 * proxies log). Every string has a size limit, so a parsed message is always bounded.
 */
import { RECORDING_POLICIES } from "./recording-policy.ts";
import { z } from "zod";
import { regexes } from "zod/v4/core";
import { DATA_LIMITS } from "./datachannel.ts";
import { clipboardPolicy } from "./desk-template.ts";
import { PARTICIPANT_KINDS } from "./participants.ts";
import { SESSION_END_REASONS, SESSION_STATES } from "./session-state.ts";
import { iceServerList } from "./turn-credentials.ts";

export const SIGNALING_VERSION = 1;

/** Limits on the wire. A frame larger than MAX_FRAME_BYTES is refused before it is parsed. */
export const SIGNAL_LIMITS = {
  /** An SDP for a video track plus data channels is a few KiB; 64 KiB leaves room for many codecs. */
  sdpBytes: 64 * 1024,
  candidateBytes: 1024,
  /** Envelope + SDP, with room for JSON escaping. */
  maxFrameBytes: 96 * 1024,
  reasonChars: 200,
  ticketChars: 2048,
  secretChars: 128,
} as const;

const uuid = z.uuid();
const reason = z.string().max(SIGNAL_LIMITS.reasonChars);

export const PEER_ROLES = ["agent", "technician"] as const;
export type PeerRole = (typeof PEER_ROLES)[number];

const helloAuth = z.discriminatedUnion("kind", [
  /** An enrolled agent: its id and the secret it received at enrollment. */
  z.strictObject({
    kind: z.literal("agent"),
    agentId: uuid,
    secret: z.string().min(16).max(SIGNAL_LIMITS.secretChars),
  }),
  /** A browser: the short-lived ticket `sessions.create` returned. */
  z.strictObject({ kind: z.literal("ticket"), ticket: z.string().min(16).max(SIGNAL_LIMITS.ticketChars) }),
]);

const iceCandidate = z.strictObject({
  candidate: z.string().max(SIGNAL_LIMITS.candidateBytes),
  sdpMid: z.string().max(64).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(255).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

const sessionId = { sessionId: uuid };
/** Which viewer of the session a negotiation message is for (agent → viewer) or from (viewer → agent). */
const participantId = { participantId: uuid };

/** A viewer page's peer-connection instance: a new one means a new peer (a reload), the same one a signaling reconnect. */
export const peerToken = z
  .string()
  .min(8)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/);

/** One participant as every party of the session sees it. */
export const participantView = z.strictObject({
  id: uuid,
  userId: uuid.nullable(),
  name: z.string().max(100),
  email: z.string().max(254),
  /** The participant's workspace, named in the consent prompt. */
  tenant: z.string().max(100),
  kind: z.enum(PARTICIPANT_KINDS),
  /** Opened the session (may take control without asking). */
  owner: z.boolean(),
  /** Admitted by the agent (consent); until then the agent serves them no picture. */
  admitted: z.boolean(),
  /** Has a live signaling connection right now. */
  connected: z.boolean(),
  /** The viewer page's peer-connection instance, while connected. */
  peer: peerToken.nullable(),
  requestingControl: z.boolean(),
});
export type ParticipantView = z.infer<typeof participantView>;

/**
 * How an agent treats a session request, set per agent by admins and enforced by the agent:
 * `prompt` asks the person at the machine (deny after a timeout), `notify` starts at once and shows
 * an indicator while the session runs, `unattended` starts at once (servers, kiosks).
 */
export const CONSENT_POLICIES = ["prompt", "notify", "unattended"] as const;
export type ConsentPolicy = (typeof CONSENT_POLICIES)[number];

/** `in`: from a viewer into the desktop (a paste); `out`: from the desktop to the viewers (a copy). */
export const CLIPBOARD_FLOWS = ["in", "out"] as const;
export type ClipboardFlow = (typeof CLIPBOARD_FLOWS)[number];

/**
 * What decided a clipboard transfer (the agent's clipboard-policy.ts): allowed, or the rule that
 * blocked it; `custom:<n>` names the template's n-th custom pattern (a template has at most 20).
 */
export const CLIPBOARD_RULE =
  /^(?:allowed|direction|size|card_number|national_id|custom(?:_timeout)?:1?[0-9])$/;

export const signalMessage = z.discriminatedUnion("type", [
  // Connection
  z.strictObject({
    type: z.literal("presence/hello"),
    v: z.literal(SIGNALING_VERSION),
    auth: helloAuth,
    /** Agents: the sessions still running here (after a signaling reconnect); the others are over. */
    resume: z.array(uuid).max(64).optional(),
    /** Viewers: this page's peer-connection instance (see `peerToken`). */
    peer: peerToken.optional(),
  }),
  z.strictObject({
    type: z.literal("presence/welcome"),
    role: z.enum(PEER_ROLES),
    peerId: z.string().max(64),
    heartbeatMs: z.number().int().positive(),
    sessionId: uuid.optional(),
    /** Viewers: who they are in the session. */
    participantId: uuid.optional(),
    /**
     * Viewers: STUN/TURN servers for their peer connection, with a short-lived TURN credential
     * (turn-credentials.ts); absent when the worker has none configured.
     */
    iceServers: iceServerList.optional(),
  }),
  z.strictObject({ type: z.literal("heartbeat/ping"), t: z.number() }),
  z.strictObject({ type: z.literal("heartbeat/pong"), t: z.number() }),
  // Session lifecycle
  z.strictObject({
    type: z.literal("session/request"),
    ...sessionId,
    technician: z.strictObject({
      id: uuid,
      name: z.string().max(100),
      email: z.string().max(254),
      tenant: z.string().max(100),
    }),
    /**
     * The opener's participant: once it accepts, the agent makes that viewer's peer and offer while
     * the page connects, and sends them when the worker says the page is there.
     */
    participantId: uuid.optional(),
    /** The agent's consent policy as the dashboard stores it at the time of the request. */
    consent: z.enum(CONSENT_POLICIES),
    /**
     * The agent's recording policy: the agent admits a recorder only when it is not "never", and
     * tells the person at the machine that the session is (or may be) recorded.
     */
    recording: z.enum(RECORDING_POLICIES).optional(),
    /** What may cross the clipboard, enforced by the agent; absent: anything, both ways. */
    clipboardPolicy: clipboardPolicy.optional(),
    /**
     * STUN/TURN servers for the agent's peers in this session, with a short-lived TURN credential
     * (turn-credentials.ts), ahead of the agent's own; absent when the worker has none configured.
     */
    iceServers: iceServerList.optional(),
  }),
  /** Agent → worker: the person at the machine is being asked. */
  z.strictObject({ type: z.literal("session/prompt"), ...sessionId }),
  z.strictObject({ type: z.literal("session/accept"), ...sessionId }),
  z.strictObject({
    type: z.literal("session/deny"),
    ...sessionId,
    reason: z.enum(["denied_by_user", "consent_timeout"]),
  }),
  /** Either side stops the session; the worker decides the reason a viewer's end carries. */
  z.strictObject({
    type: z.literal("session/end"),
    ...sessionId,
    reason: z.enum(SESSION_END_REASONS).optional(),
  }),
  /** Worker → peers: the session's state changed. */
  z.strictObject({
    type: z.literal("session/state"),
    ...sessionId,
    status: z.enum(SESSION_STATES),
    reason: reason.optional(),
  }),
  /** Worker → agent and viewers: who is in the session and who has control, whenever that changes. */
  z.strictObject({
    type: z.literal("session/participants"),
    ...sessionId,
    /** Grows with every change: an older snapshot arriving late is ignored. */
    version: z.number().int().min(0),
    controllerId: uuid.nullable(),
    participants: z.array(participantView).max(32),
  }),
  // Participants (agent → worker: consent for someone who joined later; viewer → worker: leaving)
  z.strictObject({ type: z.literal("participant/admit"), ...sessionId, ...participantId }),
  z.strictObject({
    type: z.literal("participant/refuse"),
    ...sessionId,
    ...participantId,
    reason: z.enum(["denied_by_user", "consent_timeout"]),
  }),
  /** The viewer leaves on purpose (a page that merely closes comes back within the grace period or is gone). */
  z.strictObject({ type: z.literal("participant/leave"), ...sessionId }),
  /**
   * The viewer's page is closing (a reload, a closed tab): its peer connection is gone at once, its
   * place in the session waits for the grace period.
   */
  z.strictObject({ type: z.literal("participant/away"), ...sessionId }),
  // Control (viewer → worker), applied by the control table in participants.ts
  z.strictObject({ type: z.literal("control/request"), ...sessionId }),
  z.strictObject({ type: z.literal("control/grant"), ...sessionId, to: uuid }),
  z.strictObject({ type: z.literal("control/release"), ...sessionId }),
  z.strictObject({ type: z.literal("control/take"), ...sessionId }),
  /**
   * Agent → worker: its clipboard policy decided on one transfer, for the audit trail. The size and
   * a SHA-256 of the text, never the text; `participantId` is the viewer who pasted (copies go to all).
   */
  z
    .strictObject({
      type: z.literal("clipboard/event"),
      ...sessionId,
      flow: z.enum(CLIPBOARD_FLOWS),
      allowed: z.boolean(),
      rule: z.string().regex(CLIPBOARD_RULE),
      // UTF-8 takes at most 3 bytes per UTF-16 code unit, and no clipboard text is longer than this.
      bytes: z
        .number()
        .int()
        .min(0)
        .max(3 * DATA_LIMITS.clipboardChars),
      sha256: z.string().regex(/^[0-9a-f]{64}$/),
      participantId: uuid.optional(),
    })
    .refine((m) => m.allowed === (m.rule === "allowed"), {
      error: 'rule must be "allowed" exactly when the transfer was allowed',
      path: ["rule"],
    }),
  // WebRTC negotiation, relayed between the agent and one viewer (one peer connection per viewer)
  z.strictObject({
    type: z.literal("signal/offer"),
    ...sessionId,
    ...participantId,
    sdp: z.string().max(SIGNAL_LIMITS.sdpBytes),
  }),
  z.strictObject({
    type: z.literal("signal/answer"),
    ...sessionId,
    ...participantId,
    sdp: z.string().max(SIGNAL_LIMITS.sdpBytes),
  }),
  /** `candidate: null` marks the end of candidates. */
  z.strictObject({
    type: z.literal("signal/ice"),
    ...sessionId,
    ...participantId,
    candidate: iceCandidate.nullable(),
  }),
  z.strictObject({
    type: z.literal("error"),
    code: z.string().max(64),
    message: z.string().max(500),
    ref: z.string().max(64).optional(),
  }),
]);

export type SignalMessage = z.infer<typeof signalMessage>;
export type SignalMessageType = SignalMessage["type"];
export type SignalMessageOf<T extends SignalMessageType> = Extract<SignalMessage, { type: T }>;

export type ParseResult = { ok: true; message: SignalMessage } | { ok: false; error: string };

const UUID = regexes.uuid();
const ICE_KEYS = new Set(["candidate", "sdpMid", "sdpMLineIndex", "usernameFragment"]);
const optionalString = (value: unknown, max: number) =>
  value === undefined || value === null || (typeof value === "string" && value.length <= max);

/**
 * The relayed messages (offer, answer, ICE) and heartbeats are nearly all the traffic; this checks them by hand
 * with exactly the schema's rules (strict keys, the same limits, zod's own UUID pattern), several
 * times faster. Anything it is not sure about goes to the schema, which decides and explains.
 * signaling.test.ts checks by property testing that both always agree.
 */
function parseRelayFast(json: unknown): SignalMessage | undefined {
  if (typeof json !== "object" || json === null || Array.isArray(json)) return undefined;
  const m = json as Record<string, unknown>;
  // Heartbeats are the other steady traffic: every connection, every 15 s.
  if (m.type === "heartbeat/pong" || m.type === "heartbeat/ping") {
    return typeof m.t === "number" && Number.isFinite(m.t) && Object.keys(m).length === 2
      ? (m as SignalMessage)
      : undefined;
  }
  if (
    typeof m.sessionId !== "string" ||
    !UUID.test(m.sessionId) ||
    typeof m.participantId !== "string" ||
    !UUID.test(m.participantId) ||
    Object.keys(m).length !== 4
  )
    return undefined;
  if (m.type === "signal/offer" || m.type === "signal/answer") {
    return typeof m.sdp === "string" && m.sdp.length <= SIGNAL_LIMITS.sdpBytes
      ? (m as SignalMessage)
      : undefined;
  }
  if (m.type !== "signal/ice" || !("candidate" in m)) return undefined;
  const c = m.candidate;
  if (c === null) return m as SignalMessage;
  if (typeof c !== "object" || Array.isArray(c)) return undefined;
  const candidate = c as Record<string, unknown>;
  for (const key of Object.keys(candidate)) if (!ICE_KEYS.has(key)) return undefined;
  const index = candidate.sdpMLineIndex;
  const indexOk =
    index === undefined ||
    index === null ||
    (Number.isInteger(index) && (index as number) >= 0 && (index as number) <= 255);
  return typeof candidate.candidate === "string" &&
    candidate.candidate.length <= SIGNAL_LIMITS.candidateBytes &&
    optionalString(candidate.sdpMid, 64) &&
    optionalString(candidate.usernameFragment, 256) &&
    indexOk
    ? (m as SignalMessage)
    : undefined;
}

/** Parses one text frame. Never throws: a bad frame gives a readable error for the `error` reply. */
export function parseSignalMessage(frame: string): ParseResult {
  if (frame.length > SIGNAL_LIMITS.maxFrameBytes) {
    return {
      ok: false,
      error: `message too large (${frame.length} bytes; the limit is ${SIGNAL_LIMITS.maxFrameBytes})`,
    };
  }
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return { ok: false, error: "message is not valid JSON" };
  }
  const fast = parseRelayFast(json);
  if (fast) return { ok: true, message: fast };
  const result = signalMessage.safeParse(json);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, error: `invalid message — ${where}${issue?.message ?? "unknown problem"}` };
}

/**
 * WebSocket close codes of the signaling worker, in one place. 4000–4999 are for applications
 * (RFC 6455 §7.4.2); the last digits echo the HTTP status they resemble.
 */
export const CLOSE_CODES = {
  /** The worker is shutting down; reconnect elsewhere. */
  goingAway: 1001,
  /** No hello in time, or a heartbeat went unanswered. */
  timeout: 4000,
  /** Credentials missing, unknown, wrong, expired or revoked. */
  unauthenticated: 4001,
  /** Authenticated, but not allowed (ticket for a session that is over, connection limit…). */
  forbidden: 4003,
  /** Sending too many messages or bytes, or too many connections from one address still before hello. */
  rateLimited: 4008,
  /** A frame over the size limit. */
  messageTooBig: 4009,
  /** Binary frames, a wrong version, or repeated protocol errors. */
  protocolError: 4010,
  /** The peer reads too slowly; its send buffer hit the limit. */
  slowConsumer: 4011,
  /** The same agent connected again; this older connection is replaced. */
  replaced: 4012,
  /** The session this connection was for has ended. */
  sessionEnded: 4013,
  /** This participant is no longer in the session (left, refused at the machine, or removed). */
  participantLeft: 4014,
  /** The account or agent behind this connection was deactivated or removed. */
  revoked: 4015,
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];
