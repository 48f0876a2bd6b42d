/**
 * The database schema: every table of the product. Imported on its own (without the client) so that
 * type-only consumers never open a connection. Every tenant-owned row carries `tenant_id`, and the
 * indexes follow the dashboard's queries (list by tenant, filter by status, newest first).
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  boolean,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from "drizzle-orm/pg-core";
import type { DeskTemplate } from "@rd/protocol";

const createdAt = () => timestamp("created_at", { withTimezone: true }).notNull().defaultNow();

export const userRole = pgEnum("user_role", ["admin", "technician"]);
export const agentStatus = pgEnum("agent_status", ["online", "offline"]);
export const consentPolicy = pgEnum("consent_policy", ["prompt", "notify", "unattended"]);
export const sessionStatus = pgEnum("session_status", [
  "pending",
  "awaiting_consent",
  "active",
  "ended",
  "denied",
  "failed",
]);
export const actorType = pgEnum("actor_type", ["user", "agent", "system"]);
export const participantKind = pgEnum("participant_kind", ["technician", "recorder", "candidate"]);
/** Whether sessions are recorded: never, always, or when the technician presses Record. */
export const recordingPolicy = pgEnum("recording_policy", ["never", "always", "choice"]);
/**
 * A recording's life: recording → complete (stopped cleanly) | incomplete (the stream ended
 * without a goodbye: agent killed, network gone, recorder restarted) | failed (the store refused
 * it: disk full, bucket gone); deleted once retention expired (its hashes stay in the chain).
 */
export const recordingState = pgEnum("recording_state", [
  "recording",
  "complete",
  "incomplete",
  "failed",
  "deleted",
]);
/** Who in a tenant must sign in with a second factor. */
export const twoFactorPolicy = pgEnum("two_factor_policy", ["off", "admins", "everyone"]);

export const Tenants = pgTable("tenants", {
  id: uuid("id").primaryKey().defaultRandom(),
  name: text("name").notNull(),
  twoFactorPolicy: twoFactorPolicy("two_factor_policy").notNull().default("off"),
  /** Recordings older than this many days are deleted by the retention sweeper. */
  recordingRetentionDays: integer("recording_retention_days").notNull().default(30),
  createdAt: createdAt(),
});

export const Users = pgTable(
  "users",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    /** Stored lower-cased; unique across tenants because sign-in is by email alone. */
    email: text("email").notNull(),
    name: text("name").notNull(),
    role: userRole("role").notNull(),
    /** argon2id PHC string. */
    passwordHash: text("password_hash").notNull(),
    disabledAt: timestamp("disabled_at", { withTimezone: true }),
    lastLoginAt: timestamp("last_login_at", { withTimezone: true }),
    /** Set by an admin-issued password: the user must choose their own before anything else. */
    mustChangePassword: boolean("must_change_password").notNull().default(false),
    passwordChangedAt: timestamp("password_changed_at", { withTimezone: true }),
    /** TOTP secret sealed with the server secret (AES-256-GCM, the user id as associated data). */
    totpSecret: text("totp_secret"),
    totpEnabledAt: timestamp("totp_enabled_at", { withTimezone: true }),
    /** The last 30 s step a code was accepted for: a code is good once. */
    totpLastStep: bigint("totp_last_step", { mode: "number" }),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("users_email_key").on(t.email),
    index("users_tenant_created_idx").on(t.tenantId, t.createdAt),
  ],
);

/**
 * A tenant's single sign-on (OpenID Connect) provider. The client secret is sealed with the server
 * secret (AES-256-GCM, the tenant id as associated data). Users are linked by verified email, and
 * new ones from an allowed domain are created with `defaultRole`.
 */
export const TenantSso = pgTable("tenant_sso", {
  tenantId: uuid("tenant_id")
    .primaryKey()
    .references(() => Tenants.id),
  issuer: text("issuer").notNull(),
  clientId: text("client_id").notNull(),
  clientSecret: text("client_secret").notNull(),
  /** Lower-case email domains whose users may sign in (and be created) through this provider. */
  allowedDomains: jsonb("allowed_domains").$type<string[]>().notNull().default([]),
  defaultRole: userRole("default_role").notNull().default("technician"),
  enabled: boolean("enabled").notNull().default(true),
  /** Technicians must sign in through the provider; admins keep their password (and 2FA) as a way in. */
  required: boolean("required").notNull().default(false),
  updatedAt: timestamp("updated_at", { withTimezone: true }).notNull().defaultNow(),
});

/** Which provider identity (issuer + subject) a user signed in with; the link is made by verified email. */
export const UserIdentities = pgTable(
  "user_identities",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => Users.id, { onDelete: "cascade" }),
    issuer: text("issuer").notNull(),
    subject: text("subject").notNull(),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("user_identities_issuer_subject_key").on(t.issuer, t.subject)],
);

/** Two-factor recovery codes: SHA-256 of each (they are high-entropy), each good once. */
export const RecoveryCodes = pgTable(
  "recovery_codes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    userId: uuid("user_id")
      .notNull()
      .references(() => Users.id, { onDelete: "cascade" }),
    codeHash: text("code_hash").notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("recovery_codes_user_hash_key").on(t.userId, t.codeHash)],
);

/** Lucia's session table: the id is the session token's SHA-256, never the token itself. */
export const AuthSessions = pgTable(
  "auth_sessions",
  {
    id: text("id").primaryKey(),
    userId: uuid("user_id")
      .notNull()
      .references(() => Users.id, { onDelete: "cascade" }),
    expiresAt: timestamp("expires_at", { withTimezone: true, mode: "date" }).notNull(),
  },
  (t) => [index("auth_sessions_user_idx").on(t.userId)],
);

export const Agents = pgTable(
  "agents",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    name: text("name").notNull(),
    hostname: text("hostname").notNull(),
    os: text("os").notNull(),
    version: text("version").notNull(),
    status: agentStatus("status").notNull().default("offline"),
    lastSeenAt: timestamp("last_seen_at", { withTimezone: true }),
    metadata: jsonb("metadata").$type<Record<string, unknown>>().notNull().default({}),
    /** SHA-256 of the agent's random 256-bit secret; the secret itself is only on the agent. */
    credentialHash: text("credential_hash").notNull(),
    consentPolicy: consentPolicy("consent_policy").notNull().default("prompt"),
    /** Whether this agent's sessions are recorded (a desk's comes from its template). */
    recordingPolicy: recordingPolicy("recording_policy").notNull().default("choice"),
    /**
     * What may cross the clipboard in this agent's sessions (a desk's comes from its template); null:
     * anything, both ways, as before policies existed.
     */
    clipboardPolicy: jsonb("clipboard_policy").$type<DeskTemplate["clipboard"]>(),
    /** The desk this agent was started for by the desk host; null for an enrolled machine. */
    deskId: uuid("desk_id").references((): AnyPgColumn => Desks.id),
    enrolledAt: timestamp("enrolled_at", { withTimezone: true }).notNull().defaultNow(),
    /** Soft delete: sessions and audit events keep pointing at a removed agent. */
    removedAt: timestamp("removed_at", { withTimezone: true }),
  },
  (t) => [
    index("agents_tenant_status_idx").on(t.tenantId, t.status),
    index("agents_tenant_name_idx").on(t.tenantId, t.name),
  ],
);

export const EnrollmentCodes = pgTable(
  "enrollment_codes",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    codeHash: text("code_hash").notNull(),
    label: text("label"),
    createdBy: uuid("created_by")
      .notNull()
      .references(() => Users.id),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    usedAt: timestamp("used_at", { withTimezone: true }),
    agentId: uuid("agent_id").references(() => Agents.id),
    createdAt: createdAt(),
  },
  (t) => [
    uniqueIndex("enrollment_codes_hash_key").on(t.codeHash),
    index("enrollment_codes_tenant_created_idx").on(t.tenantId, t.createdAt),
  ],
);

export const RemoteSessions = pgTable(
  "remote_sessions",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    agentId: uuid("agent_id")
      .notNull()
      .references(() => Agents.id),
    technicianId: uuid("technician_id")
      .notNull()
      .references(() => Users.id),
    status: sessionStatus("status").notNull().default("pending"),
    requestedAt: timestamp("requested_at", { withTimezone: true }).notNull().defaultNow(),
    startedAt: timestamp("started_at", { withTimezone: true }),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    endReason: text("end_reason"),
    durationMs: integer("duration_ms"),
    /** ICE route, codec, client info: whatever the peers report about the connection. */
    connection: jsonb("connection").$type<Record<string, unknown>>().notNull().default({}),
    /** The participant whose input the agent injects; null when nobody has control. */
    controllerId: uuid("controller_id").references((): AnyPgColumn => SessionParticipants.id),
    /** Grows with every change of participants or control, so late snapshots are recognised. */
    participantsVersion: integer("participants_version").notNull().default(0),
    /** Refreshed while a worker holds the agent's connection in this session (liveness sweep). */
    agentSeenAt: timestamp("agent_seen_at", { withTimezone: true }),
    /** The interview desk this session shows: its interviewers may all take control. */
    deskId: uuid("desk_id").references((): AnyPgColumn => Desks.id),
  },
  (t) => [
    index("remote_sessions_tenant_requested_idx").on(t.tenantId, t.requestedAt),
    index("remote_sessions_tenant_status_idx").on(t.tenantId, t.status, t.requestedAt),
    index("remote_sessions_agent_requested_idx").on(t.agentId, t.requestedAt),
    index("remote_sessions_technician_requested_idx").on(t.technicianId, t.requestedAt),
  ],
);

/**
 * Everyone in a session besides the agent: the technician who opened it (its owner), observers who
 * joined, later a recorder. Rows are never deleted: `left_at` ends a participation, and a person who
 * joins again gets a new row. Control requests live here too; who has control is on the session.
 */
export const SessionParticipants = pgTable(
  "session_participants",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    sessionId: uuid("session_id")
      .notNull()
      .references((): AnyPgColumn => RemoteSessions.id),
    userId: uuid("user_id").references(() => Users.id),
    kind: participantKind("kind").notNull().default("technician"),
    /** A candidate's participation: the share link it came through (revoking it cuts them off). */
    deskLinkId: uuid("desk_link_id").references((): AnyPgColumn => DeskLinks.id),
    joinedAt: timestamp("joined_at", { withTimezone: true }).notNull().defaultNow(),
    /** When the agent let this participant see the screen (its consent policy, or the person). */
    admittedAt: timestamp("admitted_at", { withTimezone: true }),
    leftAt: timestamp("left_at", { withTimezone: true }),
    leftReason: text("left_reason"),
    /** A live signaling connection holds this participant now. */
    connected: boolean("connected").notNull().default(false),
    /** The viewer page's peer-connection instance while connected (a new one means a new peer). */
    peer: text("peer"),
    /** Refreshed while a worker holds the participant's connection (liveness sweep). */
    seenAt: timestamp("seen_at", { withTimezone: true }),
    controlRequestedAt: timestamp("control_requested_at", { withTimezone: true }),
  },
  (t) => [
    index("session_participants_session_idx").on(t.sessionId),
    index("session_participants_user_open_idx")
      .on(t.userId)
      .where(sql`${t.leftAt} is null`),
    // One participation at a time per person and session: joining again reuses it.
    uniqueIndex("session_participants_session_user_open_key")
      .on(t.sessionId, t.userId)
      .where(sql`${t.leftAt} is null`),
  ],
);

/**
 * The audit log: append-only (UPDATE/DELETE/TRUNCATE are refused by triggers in the migrations),
 * one hash chain per tenant. Written only through `appendEvent()`.
 */
export const SessionEvents = pgTable(
  "session_events",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    /** Position in the tenant's chain, from 1 without gaps. */
    seq: bigint("seq", { mode: "number" }).notNull(),
    sessionId: uuid("session_id").references(() => RemoteSessions.id),
    agentId: uuid("agent_id").references(() => Agents.id),
    actorType: actorType("actor_type").notNull(),
    actorId: text("actor_id"),
    type: text("type").notNull(),
    data: jsonb("data").$type<Record<string, unknown>>().notNull().default({}),
    createdAt: createdAt(),
    prevHash: text("prev_hash").notNull(),
    hash: text("hash").notNull(),
  },
  (t) => [
    uniqueIndex("session_events_tenant_seq_key").on(t.tenantId, t.seq),
    index("session_events_session_seq_idx").on(t.sessionId, t.seq),
    index("session_events_tenant_agent_seq_idx").on(t.tenantId, t.agentId, t.seq),
    // A stand-alone check that the chain's hashes are unique catches a forked copy on restore.
    uniqueIndex("session_events_hash_key").on(t.hash),
  ],
);

/** An interview desk's state: the table and its transitions are packages/protocol desk-state.ts. */
export const deskState = pgEnum("desk_state", [
  "pending",
  "provisioning",
  "ready",
  "active",
  "expiring",
  "terminated",
  "error",
]);

/**
 * An interview desk (design flow 5): an isolated, time-limited virtual desktop for one candidate,
 * run by a provider from the template resolved when it was created. Rows are never deleted.
 */
export const Desks = pgTable(
  "desks",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    templateName: text("template_name").notNull(),
    /** The template with its overrides applied, as the provider must run it. */
    template: jsonb("template").$type<DeskTemplate>().notNull(),
    candidateLabel: text("candidate_label").notNull(),
    state: deskState("state").notNull().default("pending"),
    /** Why it is in its state: who terminated it, why it failed. */
    stateReason: text("state_reason"),
    /** The interviewer; null while the desk waits in the warm pool. */
    createdBy: uuid("created_by").references(() => Users.id),
    /** Started ahead of demand (the warm pool): not an interviewer's yet, not listed. */
    pooled: boolean("pooled").notNull().default(false),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
    createdAt: createdAt(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    /** Whatever the provider needs to find its sandbox again (opaque here). */
    providerRef: text("provider_ref"),
    /** The live session the candidate's desk is shown in. */
    sessionId: uuid("session_id").references(() => RemoteSessions.id),
  },
  (t) => [
    index("desks_tenant_created_idx").on(t.tenantId, t.createdAt),
    index("desks_tenant_state_idx").on(t.tenantId, t.state, t.createdAt),
    // The warm pool's desks, found when an interviewer asks for one.
    index("desks_pool_idx")
      .on(t.tenantId, t.templateName)
      .where(sql`${t.pooled}`),
    // The expiry sweep looks only at desks still running.
    index("desks_live_expires_idx")
      .on(t.expiresAt)
      .where(sql`${t.state} not in ('terminated', 'error')`),
  ],
);

/**
 * A desk's share link for its candidate: single-holder, expiring, revocable, optionally PIN-protected.
 * Only hashes are stored: the token's SHA-256 (it is 256 random bits), the PIN's argon2id (6 digits
 * are few, so a stolen table must not give them away), the holder id's SHA-256.
 */
export const DeskLinks = pgTable(
  "desk_links",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    deskId: uuid("desk_id")
      .notNull()
      .references(() => Desks.id),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    tokenHash: text("token_hash").notNull(),
    pinHash: text("pin_hash"),
    /** SHA-256 of the opaque id of the browser that holds the link; null until one opens it. */
    holder: text("holder"),
    heldAt: timestamp("held_at", { withTimezone: true }),
    failedPinAttempts: integer("failed_pin_attempts").notNull().default(0),
    lockedUntil: timestamp("locked_until", { withTimezone: true }),
    revokedAt: timestamp("revoked_at", { withTimezone: true }),
    createdAt: createdAt(),
    expiresAt: timestamp("expires_at", { withTimezone: true }).notNull(),
  },
  (t) => [
    uniqueIndex("desk_links_token_hash_key").on(t.tokenHash),
    index("desk_links_desk_idx").on(t.deskId, t.createdAt),
    // One live link per desk: a new one (rotation) revokes the old in the same transaction.
    uniqueIndex("desk_links_desk_live_key")
      .on(t.deskId)
      .where(sql`${t.revokedAt} is null`),
  ],
);

/**
 * A session's recording (design flow 7): encrypted fragmented-MP4 segments in the configured store
 * under `storage_prefix`, sealed with a per-recording key that is stored only wrapped by a key
 * derived from the server secret. The segments' hashes are in the audit chain
 * (`recording_segment` events); `recording_segments` is the index the player reads.
 */
export const Recordings = pgTable(
  "recordings",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    sessionId: uuid("session_id")
      .notNull()
      .references(() => RemoteSessions.id),
    /** The recorder's participation in the session. */
    participantId: uuid("participant_id").references(() => SessionParticipants.id),
    state: recordingState("state").notNull().default("recording"),
    /** Why it stopped: "stopped_by_user", "session_ended", "stream_lost", "store_failed: …". */
    stopReason: text("stop_reason"),
    /** Who pressed Record; null when the policy started it. */
    startedBy: uuid("started_by").references(() => Users.id),
    codec: text("codec"),
    /** "local" or "s3"; the store the segments are in. */
    storage: text("storage").notNull(),
    storagePrefix: text("storage_prefix").notNull(),
    /** The per-recording AES-256-GCM key, wrapped (see packages/recording crypto). */
    wrappedKey: text("wrapped_key").notNull(),
    /** Which recorder holds it and when it last said so: a stale holder's recording is taken over. */
    holder: text("holder"),
    heldAt: timestamp("held_at", { withTimezone: true }),
    /** Someone pressed Stop: the holder writes what it has and then ends the recording. */
    stopRequestedAt: timestamp("stop_requested_at", { withTimezone: true }),
    stopRequestedBy: uuid("stop_requested_by").references(() => Users.id),
    startedAt: timestamp("started_at", { withTimezone: true }).notNull().defaultNow(),
    endedAt: timestamp("ended_at", { withTimezone: true }),
    durationMs: integer("duration_ms").notNull().default(0),
    bytes: bigint("bytes", { mode: "number" }).notNull().default(0),
    segmentCount: integer("segment_count").notNull().default(0),
    deletedAt: timestamp("deleted_at", { withTimezone: true }),
  },
  (t) => [
    index("recordings_tenant_started_idx").on(t.tenantId, t.startedAt),
    index("recordings_session_idx").on(t.sessionId),
    // One recording under way per session.
    uniqueIndex("recordings_session_live_key")
      .on(t.sessionId)
      .where(sql`${t.state} = 'recording'`),
  ],
);

/** One stored segment: a self-contained fragmented MP4 of a few seconds, and what happened in it. */
export const RecordingSegments = pgTable(
  "recording_segments",
  {
    recordingId: uuid("recording_id")
      .notNull()
      .references(() => Recordings.id),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    seq: integer("seq").notNull(),
    /** Start and length on the recording's clock (ms from its start); a gap precedes it when set. */
    startMs: integer("start_ms").notNull(),
    durationMs: integer("duration_ms").notNull(),
    /** No frames arrived for this long before the segment (a stall, an encoder restart). */
    gapBeforeMs: integer("gap_before_ms").notNull().default(0),
    bytes: integer("bytes").notNull(),
    /** SHA-256 of the plaintext segment, as written into the audit chain. */
    sha256: text("sha256").notNull(),
    /** Begins with a keyframe (a seek may start here). */
    keyframe: boolean("keyframe").notNull(),
    /** Per second of the segment: [second, encoded bytes, pointer clicks, key presses]. */
    activity: jsonb("activity").$type<[number, number, number, number][]>().notNull().default([]),
    createdAt: createdAt(),
  },
  (t) => [uniqueIndex("recording_segments_recording_seq_key").on(t.recordingId, t.seq)],
);

/** The public halves of the keys that sign audit chain heads, by fingerprint. */
export const AuditSigningKeys = pgTable("audit_signing_keys", {
  /** SHA-256 of the raw 32-byte Ed25519 public key, hex. */
  id: text("id").primaryKey(),
  /** The public key, SPKI PEM. */
  publicKey: text("public_key").notNull(),
  createdAt: createdAt(),
});

/**
 * Signed chain heads: every N events or T seconds the signer signs (tenant, seq, hash). A chain
 * rewritten without the private key no longer matches its signed heads. Append-only like the chain.
 */
export const AuditHeads = pgTable(
  "audit_heads",
  {
    id: uuid("id").primaryKey().defaultRandom(),
    tenantId: uuid("tenant_id")
      .notNull()
      .references(() => Tenants.id),
    seq: bigint("seq", { mode: "number" }).notNull(),
    hash: text("hash").notNull(),
    keyId: text("key_id")
      .notNull()
      .references(() => AuditSigningKeys.id),
    /** Ed25519 signature (base64) over the canonical JSON of {v, tenantId, seq, hash, signedAt}. */
    signature: text("signature").notNull(),
    signedAt: timestamp("signed_at", { withTimezone: true }).notNull(),
  },
  (t) => [uniqueIndex("audit_heads_tenant_seq_key").on(t.tenantId, t.seq)],
);

export type Recording = typeof Recordings.$inferSelect;
export type RecordingSegment = typeof RecordingSegments.$inferSelect;
export type AuditHead = typeof AuditHeads.$inferSelect;
export type RecordingPolicy = (typeof recordingPolicy.enumValues)[number];
export type RecordingState = (typeof recordingState.enumValues)[number];

export type Desk = typeof Desks.$inferSelect;
export type DeskLink = typeof DeskLinks.$inferSelect;

export type Tenant = typeof Tenants.$inferSelect;
export type User = typeof Users.$inferSelect;
export type Agent = typeof Agents.$inferSelect;
export type RemoteSession = typeof RemoteSessions.$inferSelect;
export type SessionEvent = typeof SessionEvents.$inferSelect;
export type SessionParticipant = typeof SessionParticipants.$inferSelect;
export type UserRole = (typeof userRole.enumValues)[number];
export type SessionStatus = (typeof sessionStatus.enumValues)[number];
export type AgentStatus = (typeof agentStatus.enumValues)[number];
export type ActorType = (typeof actorType.enumValues)[number];

/** Lower-cased email, the form stored and compared. */
export const emailKey = (email: string) => email.trim().toLowerCase();
