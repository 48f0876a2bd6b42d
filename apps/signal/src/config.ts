/**
 * The signaling worker's configuration: environment variables validated once (runtime-neutral: the
 * entries pass in their runtime's environment), and the tuning constants with why they have their value.
 */
import {
  iceServerUrl,
  TURN_CREDENTIAL_TTL_SECONDS,
  TURN_SECRET_MIN_CHARS,
  type TurnConfig,
} from "@rd/protocol";
import { z } from "zod";

export interface SignalTuning {
  /** Ping interval; a peer silent for 2.5× this is dead. 15 s keeps NAT mappings alive cheaply. */
  heartbeatMs: number;
  /** Time a new connection has to authenticate. */
  helloTimeoutMs: number;
  /** An agent that reconnects within this time leaves no offline/online pair in the timeline. */
  offlineGraceMs: number;
  /**
   * How long a session waits for its agent, and a participant's place for its viewer, after their
   * signaling connection went away (a reload, a network blip, a worker restart) before the session
   * ends or the participant leaves. The media is peer to peer and usually still flows meanwhile.
   */
  resumeGraceMs: number;
  /**
   * How often the database hears what this worker holds (agents, their sessions, participants) and
   * what nobody holds any more is swept: unseen for resumeGraceMs + two refreshes means its worker died.
   */
  presenceRefreshMs: number;
  /** Per connection: ICE trickle bursts reach ~30 messages; 200 leaves room, 50/s sustained. */
  messagesPerSecond: number;
  messageBurst: number;
  /** Per connection: an offer is ≤ 64 KiB; 1 MiB burst, 256 KiB/s sustained. */
  bytesPerSecond: number;
  byteBurst: number;
  /** A reader this far behind is closed rather than buffered without bound. */
  maxBufferedBytes: number;
  maxConnectionsPerUser: number;
  /**
   * Connections from one client address (IPv6: its /64) that have not completed their hello yet.
   * A real client says hello as soon as its socket opens and is welcomed within a database query,
   * so even a whole office reconnecting at once behind one NAT (after a worker restart, with the
   * agents' jittered backoff) has a few dozen in flight; 128 leaves room for that, while one
   * address can no longer hold thousands of idle sockets open for the hello timeout each.
   */
  maxUnauthenticatedPerIp: number;
  /** Invalid messages tolerated (each answered with an error) before the connection is closed. */
  maxProtocolErrors: number;
}

export const DEFAULT_TUNING: SignalTuning = {
  heartbeatMs: 15_000,
  helloTimeoutMs: 5_000,
  offlineGraceMs: 5_000,
  resumeGraceMs: 20_000,
  presenceRefreshMs: 15_000,
  messagesPerSecond: 50,
  messageBurst: 200,
  bytesPerSecond: 256 * 1024,
  byteBurst: 1024 * 1024,
  maxBufferedBytes: 1024 * 1024,
  maxConnectionsPerUser: 8,
  maxUnauthenticatedPerIp: 128,
  maxProtocolErrors: 20,
};

const optional = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .optional();

/** A comma-separated list of STUN/TURN URIs, each checked (an empty list is no list). */
const iceUrlList = z
  .string()
  .transform((v) =>
    v
      .split(",")
      .map((u) => u.trim())
      .filter(Boolean),
  )
  .pipe(z.array(iceServerUrl).max(8));

const schema = z.object({
  SIGNAL_PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  SIGNAL_HOST: z.string().default("0.0.0.0"),
  DATABASE_URL: optional.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL" })
      .optional(),
  ),
  DATA_DIR: z.string().default(".data"),
  REDIS_URL: optional.pipe(
    z
      .string()
      .regex(/^rediss?:\/\//, { error: "must be a redis:// URL" })
      .optional(),
  ),
  RD_SECRET: optional,
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  SIGNAL_HEARTBEAT_MS: z.coerce.number().int().min(100).max(120_000).optional(),
  SIGNAL_OFFLINE_GRACE_MS: z.coerce.number().int().min(0).max(600_000).optional(),
  SIGNAL_HELLO_TIMEOUT_MS: z.coerce.number().int().min(100).max(60_000).optional(),
  SIGNAL_RESUME_GRACE_MS: z.coerce.number().int().min(100).max(3_600_000).optional(),
  /** Per-connection message budget (sustained per second); the burst is four seconds' worth. */
  SIGNAL_MESSAGES_PER_SECOND: z.coerce.number().int().min(1).max(1_000_000).optional(),
  SIGNAL_MAX_UNAUTHENTICATED_PER_IP: z.coerce.number().int().min(1).max(100_000).optional(),
  /**
   * Unset: `/healthz` says only that the worker is alive. Set: a caller presenting it as a Bearer
   * token also gets the connection counts (for monitoring), which strangers should not see.
   */
  SIGNAL_METRICS_TOKEN: optional.pipe(
    z.string().min(16, { error: "must be at least 16 characters (a random token)" }).optional(),
  ),
  /**
   * TURN relay: the secret shared with the TURN server (coturn `static-auth-secret`) and where it
   * is (comma separated). Set both, and every viewer and agent gets a short-lived credential for
   * each session; set neither, and peers use their own ICE servers only.
   */
  RD_TURN_SECRET: optional.pipe(
    z
      .string()
      .min(TURN_SECRET_MIN_CHARS, {
        error: `must be at least ${TURN_SECRET_MIN_CHARS} characters; generate one with: openssl rand -hex 32`,
      })
      .optional(),
  ),
  RD_TURN_URLS: optional.pipe(iceUrlList.optional()),
  /** How long a TURN credential lives, in seconds. */
  RD_TURN_TTL_SECONDS: z.coerce.number().int().min(60).max(TURN_CREDENTIAL_TTL_SECONDS).optional(),
});

/** Half a TURN configuration is a mistake, not "off": say which half is missing. */
const checked = schema.superRefine((env, ctx) => {
  const urls = env.RD_TURN_URLS?.length ?? 0;
  if (env.RD_TURN_SECRET && urls === 0)
    ctx.addIssue({
      code: "custom",
      path: ["RD_TURN_URLS"],
      message: "RD_TURN_SECRET is set: set RD_TURN_URLS too, e.g. turn:203.0.113.5:3478?transport=udp",
    });
  if (!env.RD_TURN_SECRET && urls > 0)
    ctx.addIssue({
      code: "custom",
      path: ["RD_TURN_SECRET"],
      message: "RD_TURN_URLS is set: set RD_TURN_SECRET too (the TURN server's static-auth-secret)",
    });
});

export type SignalEnv = z.infer<typeof schema>;

export function loadSignalEnv(source: Record<string, string | undefined>): SignalEnv {
  const result = checked.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(
      `Invalid signaling worker configuration — fix these environment variables:\n${lines.join("\n")}`,
    );
  }
  return result.data;
}

/** The TURN relay the worker issues credentials for, when configured. */
export function turnFrom(env: SignalEnv): TurnConfig | undefined {
  if (!env.RD_TURN_SECRET || !env.RD_TURN_URLS?.length) return undefined;
  return { secret: env.RD_TURN_SECRET, urls: env.RD_TURN_URLS, ttlSeconds: env.RD_TURN_TTL_SECONDS };
}

export function tuningFrom(env: SignalEnv, overrides: Partial<SignalTuning> = {}): SignalTuning {
  const heartbeatMs = env.SIGNAL_HEARTBEAT_MS ?? DEFAULT_TUNING.heartbeatMs;
  return {
    ...DEFAULT_TUNING,
    heartbeatMs,
    presenceRefreshMs: heartbeatMs,
    offlineGraceMs: env.SIGNAL_OFFLINE_GRACE_MS ?? DEFAULT_TUNING.offlineGraceMs,
    helloTimeoutMs: env.SIGNAL_HELLO_TIMEOUT_MS ?? DEFAULT_TUNING.helloTimeoutMs,
    resumeGraceMs: env.SIGNAL_RESUME_GRACE_MS ?? DEFAULT_TUNING.resumeGraceMs,
    maxUnauthenticatedPerIp: env.SIGNAL_MAX_UNAUTHENTICATED_PER_IP ?? DEFAULT_TUNING.maxUnauthenticatedPerIp,
    ...(env.SIGNAL_MESSAGES_PER_SECOND
      ? {
          messagesPerSecond: env.SIGNAL_MESSAGES_PER_SECOND,
          messageBurst: env.SIGNAL_MESSAGES_PER_SECOND * 4,
          bytesPerSecond: env.SIGNAL_MESSAGES_PER_SECOND * 4096,
          byteBurst: env.SIGNAL_MESSAGES_PER_SECOND * 16_384,
        }
      : {}),
    ...overrides,
  };
}
