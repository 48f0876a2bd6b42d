/**
 * The signaling protocol: every message between browsers, agents and the signaling worker, as one zod
 * discriminated union on `type` ("domain/action"). Version 1; the version travels in `presence/hello`,
 * the first message of every connection, which also carries the credentials (never the URL, which
 * proxies log). Every string has a size limit, so a parsed message is always bounded.
 */
import { z } from "zod";
import { regexes } from "zod/v4/core";
import { SESSION_STATES } from "./session-state.ts";

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

/**
 * How an agent treats a session request, set per agent by admins and enforced by the agent:
 * `prompt` asks the person at the machine (deny after a timeout), `notify` starts at once and shows
 * an indicator while the session runs, `unattended` starts at once (servers, kiosks).
 */
export const CONSENT_POLICIES = ["prompt", "notify", "unattended"] as const;
export type ConsentPolicy = (typeof CONSENT_POLICIES)[number];

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
] as const;
export type SessionEndReason = (typeof SESSION_END_REASONS)[number];

export const signalMessage = z.discriminatedUnion("type", [
  // Connection
  z.strictObject({ type: z.literal("presence/hello"), v: z.literal(SIGNALING_VERSION), auth: helloAuth }),
  z.strictObject({
    type: z.literal("presence/welcome"),
    role: z.enum(PEER_ROLES),
    peerId: z.string().max(64),
    heartbeatMs: z.number().int().positive(),
    sessionId: uuid.optional(),
  }),
  z.strictObject({ type: z.literal("heartbeat/ping"), t: z.number() }),
  z.strictObject({ type: z.literal("heartbeat/pong"), t: z.number() }),
  // Session lifecycle
  z.strictObject({
    type: z.literal("session/request"),
    ...sessionId,
    technician: z.strictObject({ id: uuid, name: z.string().max(100), email: z.string().max(254) }),
    /** The agent's consent policy as the dashboard stores it at the time of the request. */
    consent: z.enum(CONSENT_POLICIES),
  }),
  /** Agent → worker: the person at the machine is being asked. */
  z.strictObject({ type: z.literal("session/prompt"), ...sessionId }),
  z.strictObject({ type: z.literal("session/accept"), ...sessionId }),
  z.strictObject({
    type: z.literal("session/deny"),
    ...sessionId,
    reason: z.enum(["denied_by_user", "consent_timeout"]),
  }),
  z.strictObject({ type: z.literal("session/end"), ...sessionId, reason: reason.optional() }),
  /** Worker → peers: the session's state changed. */
  z.strictObject({
    type: z.literal("session/state"),
    ...sessionId,
    status: z.enum(SESSION_STATES),
    reason: reason.optional(),
  }),
  // WebRTC negotiation, relayed between the two peers of one session
  z.strictObject({
    type: z.literal("signal/offer"),
    ...sessionId,
    sdp: z.string().max(SIGNAL_LIMITS.sdpBytes),
  }),
  z.strictObject({
    type: z.literal("signal/answer"),
    ...sessionId,
    sdp: z.string().max(SIGNAL_LIMITS.sdpBytes),
  }),
  /** `candidate: null` marks the end of candidates. */
  z.strictObject({ type: z.literal("signal/ice"), ...sessionId, candidate: iceCandidate.nullable() }),
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
  if (typeof m.sessionId !== "string" || !UUID.test(m.sessionId) || Object.keys(m).length !== 3)
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
  /** Sending too many messages or bytes. */
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
} as const;

export type CloseCode = (typeof CLOSE_CODES)[keyof typeof CLOSE_CODES];
