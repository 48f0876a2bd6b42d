/**
 * What the worker needs from the database, behind one interface: agent authentication (cached
 * briefly, so reconnect storms do not hammer the database, and forgotten the moment the agent is
 * removed), presence with audit events, refused credentials in the audit trail, the participation
 * a ticket names, the session control path (transitions, participants, control; all of it in
 * packages/db), liveness, the control feed every change is announced on, and agents' clipboard
 * decisions in the audit trail. Nothing here runs per relayed message.
 */
import {
  Agents,
  answerParticipant,
  appendEvent,
  changeControl,
  type ControlNotice,
  EndRefused,
  endSessionFor,
  type ControlRequest,
  type Database,
  type DbHandle,
  IllegalControlChange,
  leaveSession,
  leftReason,
  openSessionsOfAgent,
  parseControlNotice,
  participantAway,
  participantConnected,
  participantDisconnected,
  ParticipantNotFound,
  participantsSnapshot,
  Recordings,
  RemoteSessions,
  SessionParticipants,
  SessionNotFound,
  stopQuietly,
  sweepInterrupted,
  Tenants,
  touchParticipants,
  touchSessionAgents,
  transitionSession,
  type TransitionOptions,
  Users,
  DeskLinks,
} from "@rd/db";
import { sha256Hex } from "@rd/auth/secrets";
import { twoFactorRequired, type TwoFactorPolicy } from "@rd/auth/two-factor-policy";
import {
  IllegalParticipantTransition,
  IllegalSessionTransition,
  isTerminalSessionState,
  type ParticipantLeaveReason,
  type SessionEndReason,
  type SessionState,
  type SignalMessageOf,
} from "@rd/protocol";
import { and, eq, inArray, isNull, lt } from "drizzle-orm";

export interface AgentIdentity {
  agentId: string;
  tenantId: string;
  name: string;
}

/** What a viewer's ticket leads to, checked against the database at connect time. */
export interface TicketParticipation {
  participantId: string;
  sessionId: string;
  tenantId: string;
  agentId: string;
  /** The user, or for a candidate the share link they came through. */
  userId: string;
  /** A desk's candidate (no account): `userId` is their share link. */
  candidate: boolean;
  /** The server's recorder: `userId` is the recording it writes. */
  recorder: boolean;
  status: SessionState;
  admin: boolean;
  agentOnline: boolean;
  /** The participants version when the ticket was checked: older snapshots are stale for this viewer. */
  version: number;
}

export type Snapshot = Omit<SignalMessageOf<"session/participants">, "type" | "sessionId"> & {
  status: SessionState;
  endReason: string | null;
};

/** An agent's hello: who it is, or why its credential is refused (the tenant, when the agent exists). */
export type AgentCredentialCheck =
  | { ok: true; agent: AgentIdentity }
  | { ok: false; reason: "unknown_agent"; tenantId?: undefined }
  | { ok: false; reason: "removed" | "wrong_secret"; tenantId: string };

/** A refused agent credential or viewer ticket, for the tenant's audit trail. Never the secret. */
export interface RefusalEvent {
  tenantId: string;
  type: "ticket_refused" | "agent_credential_refused";
  agentId?: string;
  data: Record<string, unknown>;
}

/** A refused change, in words for whoever asked; the worker answers it with an `error`. */
export type Outcome = { ok: true } | { ok: false; code: string; message: string };

/** An agent's clipboard decision as it reports it: size, hash and rule, never the text. */
export type ClipboardReport = Omit<SignalMessageOf<"clipboard/event">, "type">;

export interface SignalStore {
  authenticateAgent(agentId: string, secret: string): Promise<AgentCredentialCheck>;
  /** Appends a refused credential to its tenant's audit trail (the caller throttles these). */
  recordRefusal(event: RefusalEvent): Promise<void>;
  /** Drops the agent's cached credential check (it was removed). */
  forgetAgent(agentId: string): void;
  /** Marks the agent online now; writes `agent_online` only when it was offline. */
  agentOnline(agent: AgentIdentity): Promise<void>;
  /** Marks it offline unless it was seen after `disconnectedAt` (it reconnected somewhere). */
  agentOffline(agent: AgentIdentity, disconnectedAt: Date): Promise<void>;
  /** Refreshes last_seen_at of agents connected to this worker. */
  touchAgents(agentIds: string[]): Promise<void>;
  /** Marks offline every agent not seen since `before` (its worker died); returns how many. */
  sweepStaleAgents(before: Date): Promise<number>;

  /** The participation a ticket names; a refusal says why (left, deactivated, over…). */
  participationForTicket(claims: {
    tid: string;
    sid: string;
    uid: string;
    pid: string;
    role: "technician" | "candidate" | "recorder";
  }): Promise<
    | { ok: true; value: TicketParticipation }
    // Gone: no such participation (a ticket naming another tenant's), the user deactivated, or left.
    | {
        ok: false;
        code: "gone";
        why: "unknown" | "deactivated" | "revoked_link" | "left";
        message: string;
      }
    // Over: the viewer hears how it ended (a reconnect after a worker restart may come after the end).
    | { ok: false; code: "over"; message: string; status: SessionState; reason: string | null }
  >;
  /**
   * Takes the right to ask the agent of a pending session: the session's opening request, as the
   * agent shows it, for exactly one caller (the worker that hears of the new session, or the first
   * viewer's); null for every other, and once the session is no longer pending.
   */
  claimRequest(sessionId: string): Promise<SignalMessageOf<"session/request"> | null>;
  /**
   * The session's participants version that has this participant connected; null when it is no
   * longer in the session (it left meanwhile).
   */
  participantConnected(participantId: string, peer: string | null): Promise<number | null>;
  participantDisconnected(participantId: string, peer: string | null, pageClosed?: boolean): Promise<void>;
  participantAway(participantId: string): Promise<boolean>;
  leave(participantId: string, reason: ParticipantLeaveReason, actor: Actor): Promise<void>;
  answerParticipant(
    agentId: string,
    sessionId: string,
    participantId: string,
    answer: "admit" | "denied_by_user" | "consent_timeout",
  ): Promise<Outcome>;
  changeControl(options: {
    sessionId: string;
    by: string;
    action: ControlRequest;
    to?: string;
    byAdmin: boolean;
  }): Promise<Outcome>;
  /** A viewer asks to end the session for everyone: its opener, its controller or an admin may. */
  endSession(options: {
    tenantId: string;
    sessionId: string;
    userId: string;
    admin: boolean;
  }): Promise<Outcome>;
  snapshot(sessionId: string): Promise<Snapshot | null>;
  /** Why a participant left (refused at the machine, deactivated…), once they have. */
  leftReason(participantId: string): Promise<string | null>;

  transition(options: TransitionOptions): Promise<Outcome>;
  /** Stops an open session for `reason` (end, deny or fail by the reason); false when it was over. */
  stop(tenantId: string, sessionId: string, reason: SessionEndReason, actor: Actor): Promise<boolean>;
  /**
   * An agent (re)connected saying which sessions it still runs: those are resumed (with a
   * `session_resumed` event naming the gap), the other sessions it was part of are over, except a
   * request it never answered (`reask`): it may never have arrived (taken by a worker whose
   * connection of the agent was closing, or sent while no worker held one), so it is asked again.
   */
  resumeAgent(
    agent: AgentIdentity,
    running: string[],
  ): Promise<{
    resumed: string[];
    ended: number;
    over: { sessionId: string; status: SessionState; reason?: string }[];
    reask: string[];
  }>;
  /** A pending session's opening request, as the agent shows it, again; null once it is not pending. */
  requestAgain(sessionId: string): Promise<SignalMessageOf<"session/request"> | null>;
  /** Ends the session as `agent_offline` unless its agent was seen in it after `since` (it came back). */
  stopIfAgentAway(sessionId: string, since: Date): Promise<void>;
  touchSessionAgents(sessionIds: string[]): Promise<void>;
  touchParticipants(participantIds: string[]): Promise<void>;
  sweepInterrupted(before: Date): Promise<number>;

  /** Calls `onNotice` for every control-feed notice (from any process); resolves with unlisten. */
  listen(
    onNotice: (notice: ControlNotice) => void,
    onInvalid: (payload: string) => void,
  ): Promise<() => Promise<void>>;

  /**
   * Appends an agent's clipboard decision to its tenant's audit trail (`clipboard_allowed` or
   * `clipboard_blocked`); refused when the session, or the participant named, is not the agent's.
   */
  recordClipboard(agent: AgentIdentity, report: ClipboardReport): Promise<Outcome>;
}

type Actor = { type: "user" | "agent" | "system"; id?: string | null };

/** The columns of a session its request is made from. */
const requestKeys = {
  tenantId: RemoteSessions.tenantId,
  agentId: RemoteSessions.agentId,
  ownerId: RemoteSessions.technicianId,
};

const refused = (error: unknown): Outcome | null => {
  if (error instanceof IllegalControlChange)
    return { ok: false, code: "illegal_control", message: error.message };
  if (error instanceof IllegalSessionTransition)
    return { ok: false, code: "illegal_transition", message: `${error.message}.` };
  if (error instanceof IllegalParticipantTransition)
    return { ok: false, code: "illegal_transition", message: `${error.message}.` };
  if (error instanceof ParticipantNotFound || error instanceof SessionNotFound)
    return { ok: false, code: "not_found", message: error.message };
  if (error instanceof EndRefused) return { ok: false, code: "forbidden", message: error.message };
  return null;
};

export function createDbStore(handle: DbHandle, { credentialCacheMs = 30_000 } = {}): SignalStore {
  const db: Database = handle.db;
  // Key: agent id + hash of the presented secret, so a wrong secret never hits a cached success.
  const cache = new Map<string, { result: AgentCredentialCheck; expires: number }>();

  /**
   * Whether a user may use an admin's powers now: an admin, not deactivated, and not still owing
   * the two-factor sign-in their workspace requires of admins (the dashboard holds them at their
   * Account page until then; a technician made admin mid-session is held here the same way).
   */
  const adminNow = (user: AdminStanding | undefined) =>
    user?.role === "admin" &&
    !user.disabledAt &&
    (user.totpEnabledAt !== null || !twoFactorRequired(user.policy, "admin"));
  const adminStanding = {
    role: Users.role,
    disabledAt: Users.disabledAt,
    totpEnabledAt: Users.totpEnabledAt,
    policy: Tenants.twoFactorPolicy,
  };
  type AdminStanding = {
    role: string;
    disabledAt: Date | null;
    totpEnabledAt: Date | null;
    policy: TwoFactorPolicy;
  };

  async function userIsAdmin(userId: string): Promise<boolean> {
    const [user] = await db
      .select(adminStanding)
      .from(Users)
      .innerJoin(Tenants, eq(Tenants.id, Users.tenantId))
      .where(eq(Users.id, userId));
    return adminNow(user);
  }

  async function participantIsAdmin(participantId: string): Promise<boolean> {
    const [user] = await db
      .select(adminStanding)
      .from(SessionParticipants)
      .innerJoin(Users, eq(Users.id, SessionParticipants.userId))
      .innerJoin(Tenants, eq(Tenants.id, Users.tenantId))
      .where(eq(SessionParticipants.id, participantId));
    return adminNow(user);
  }

  /** What a session's opening request says, as the agent shows it (its policies, who asks). */
  async function requestOf(
    sessionId: string,
    session: { tenantId: string; agentId: string; ownerId: string },
  ): Promise<SignalMessageOf<"session/request"> | null> {
    const [row] = await db
      .select({
        consent: Agents.consentPolicy,
        clipboardPolicy: Agents.clipboardPolicy,
        recording: Agents.recordingPolicy,
        tenant: Tenants.name,
        owner: { id: Users.id, name: Users.name, email: Users.email },
        participantId: SessionParticipants.id,
      })
      .from(Agents)
      .innerJoin(Tenants, eq(Tenants.id, session.tenantId))
      .innerJoin(Users, eq(Users.id, session.ownerId))
      .leftJoin(
        SessionParticipants,
        and(
          eq(SessionParticipants.sessionId, sessionId),
          eq(SessionParticipants.userId, session.ownerId),
          isNull(SessionParticipants.leftAt),
        ),
      )
      .where(eq(Agents.id, session.agentId))
      .limit(1);
    if (!row) return null;
    return {
      type: "session/request",
      sessionId,
      technician: {
        id: row.owner.id,
        name: row.owner.name.slice(0, 100),
        email: row.owner.email,
        tenant: row.tenant.slice(0, 100),
      },
      ...(row.participantId ? { participantId: row.participantId } : {}),
      consent: row.consent,
      recording: row.recording,
      // Null is no policy: the agent lets anything through, as before policies existed.
      ...(row.clipboardPolicy ? { clipboardPolicy: row.clipboardPolicy } : {}),
    };
  }

  async function setPresence(agent: AgentIdentity, online: boolean, condition?: Date) {
    await db.transaction(async (tx) => {
      const [row] = await tx
        .select({ status: Agents.status, lastSeenAt: Agents.lastSeenAt, removedAt: Agents.removedAt })
        .from(Agents)
        .where(eq(Agents.id, agent.agentId))
        .for("update");
      if (!row) return;
      if (!online && condition && row.lastSeenAt && row.lastSeenAt > condition) return;
      // A removed agent stays offline, whatever a connection racing the removal says.
      const status = online && !row.removedAt ? "online" : "offline";
      await tx.update(Agents).set({ status, lastSeenAt: new Date() }).where(eq(Agents.id, agent.agentId));
      if (row.status !== status) {
        await appendEvent(tx, {
          tenantId: agent.tenantId,
          type: status === "online" ? "agent_online" : "agent_offline",
          actor: { type: "agent", id: agent.agentId },
          agentId: agent.agentId,
        });
      }
    });
  }

  /** A candidate's share link still admits: not revoked, not expired (a candidate is never an admin). */
  async function linkStanding(linkId: string): Promise<{ ok: boolean; admin: boolean }> {
    const [link] = await db
      .select({ revokedAt: DeskLinks.revokedAt, expiresAt: DeskLinks.expiresAt })
      .from(DeskLinks)
      .where(eq(DeskLinks.id, linkId));
    return { ok: !!link && !link.revokedAt && link.expiresAt > new Date(), admin: false };
  }

  /** The recorder's recording is still being written (stopped or ended recordings admit no one). */
  async function recordingStanding(recordingId: string): Promise<{ ok: boolean; admin: boolean }> {
    const [recording] = await db
      .select({ state: Recordings.state })
      .from(Recordings)
      .where(eq(Recordings.id, recordingId));
    return { ok: recording?.state === "recording", admin: false };
  }

  async function attempt(work: () => Promise<unknown>): Promise<Outcome> {
    try {
      await work();
      return { ok: true };
    } catch (error) {
      const outcome = refused(error);
      if (outcome) return outcome;
      throw error;
    }
  }

  return {
    async authenticateAgent(agentId, secret) {
      const hash = sha256Hex(secret);
      const key = `${agentId}:${hash}`;
      const hit = cache.get(key);
      if (hit && hit.expires > Date.now()) return hit.result;
      const [row] = await db
        .select({
          tenantId: Agents.tenantId,
          name: Agents.name,
          credentialHash: Agents.credentialHash,
          removedAt: Agents.removedAt,
        })
        .from(Agents)
        .where(eq(Agents.id, agentId));
      const result: AgentCredentialCheck = !row
        ? { ok: false, reason: "unknown_agent" }
        : row.removedAt
          ? { ok: false, reason: "removed", tenantId: row.tenantId }
          : row.credentialHash !== hash
            ? { ok: false, reason: "wrong_secret", tenantId: row.tenantId }
            : { ok: true, agent: { agentId, tenantId: row.tenantId, name: row.name } };
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { result, expires: Date.now() + credentialCacheMs });
      return result;
    },

    async recordRefusal({ tenantId, type, agentId, data }) {
      await appendEvent(db, { tenantId, type, actor: { type: "system" }, agentId: agentId ?? null, data });
    },

    forgetAgent(agentId) {
      for (const key of cache.keys()) if (key.startsWith(`${agentId}:`)) cache.delete(key);
    },

    agentOnline: (agent) => setPresence(agent, true),
    agentOffline: (agent, disconnectedAt) => setPresence(agent, false, disconnectedAt),

    async touchAgents(agentIds) {
      if (agentIds.length === 0) return;
      await db.update(Agents).set({ lastSeenAt: new Date() }).where(inArray(Agents.id, agentIds));
    },

    async sweepStaleAgents(before) {
      const stale = await db
        .select({ agentId: Agents.id, tenantId: Agents.tenantId, name: Agents.name })
        .from(Agents)
        .where(and(eq(Agents.status, "online"), lt(Agents.lastSeenAt, before)));
      for (const agent of stale) await setPresence(agent, false, before);
      return stale.length;
    },

    async participationForTicket(claims) {
      // One read for a technician (the participation, its session and agent, and the user): the
      // hello waits on it, on the embedded database's one thread, on every Connect.
      const [found] = await db
        .select({
          participant: SessionParticipants,
          session: RemoteSessions,
          agentStatus: Agents.status,
          agentRemovedAt: Agents.removedAt,
          userDisabledAt: Users.disabledAt,
          userRole: Users.role,
        })
        .from(SessionParticipants)
        .innerJoin(RemoteSessions, eq(RemoteSessions.id, SessionParticipants.sessionId))
        .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
        .leftJoin(Users, eq(Users.id, SessionParticipants.userId))
        .where(and(eq(SessionParticipants.id, claims.pid), eq(SessionParticipants.tenantId, claims.tid)));
      const candidate = claims.role === "candidate";
      const recorder = claims.role === "recorder";
      // A technician's ticket names their user; a candidate's the share link they came through; the
      // recorder's the recording (checked against the recording's own participant below).
      const matches =
        found &&
        found.session.id === claims.sid &&
        (candidate
          ? found.participant.kind === "candidate" && found.participant.deskLinkId === claims.uid
          : recorder
            ? found.participant.kind === "recorder"
            : found.participant.userId === claims.uid);
      if (!found || !matches) {
        return {
          ok: false,
          code: "gone",
          why: "unknown",
          message: "The ticket's session or participant does not exist.",
        };
      }
      const { participant, session } = found;
      // In this order: a deactivated user (a revoked link) hears that, whatever became of the session since.
      const standing = candidate
        ? await linkStanding(claims.uid)
        : recorder
          ? await recordingStanding(claims.uid)
          : // A technician's account may still take part: it exists and is not deactivated.
            { ok: found.userRole !== null && !found.userDisabledAt, admin: found.userRole === "admin" };
      if (!standing.ok) {
        if (recorder)
          return { ok: false, code: "gone", why: "left", message: "this recording has been stopped" };
        return candidate
          ? { ok: false, code: "gone", why: "revoked_link", message: "this link was withdrawn" }
          : { ok: false, code: "gone", why: "deactivated", message: "this account is deactivated" };
      }
      if (isTerminalSessionState(session.status)) {
        const how = session.status === "ended" ? "ended" : `been ${session.status}`;
        return {
          ok: false,
          code: "over",
          message: `the session has already ${how}`,
          status: session.status,
          reason: session.endReason,
        };
      }
      if (participant.leftAt) {
        return {
          ok: false,
          code: "gone",
          why: "left",
          message: "you left this session; join it again from the dashboard",
        };
      }
      return {
        ok: true,
        value: {
          participantId: participant.id,
          sessionId: session.id,
          tenantId: session.tenantId,
          agentId: session.agentId,
          userId: claims.uid,
          candidate,
          recorder,
          status: session.status,
          admin: standing.admin,
          agentOnline: found.agentStatus === "online" && !found.agentRemovedAt,
          version: session.participantsVersion,
        },
      };
    },

    async claimRequest(sessionId) {
      const [session] = await db
        .update(RemoteSessions)
        .set({ agentSeenAt: new Date() })
        .where(
          and(
            eq(RemoteSessions.id, sessionId),
            eq(RemoteSessions.status, "pending"),
            isNull(RemoteSessions.agentSeenAt),
          ),
        )
        .returning(requestKeys);
      return session ? requestOf(sessionId, session) : null;
    },

    async requestAgain(sessionId) {
      const [session] = await db
        .select(requestKeys)
        .from(RemoteSessions)
        .where(and(eq(RemoteSessions.id, sessionId), eq(RemoteSessions.status, "pending")));
      return session ? requestOf(sessionId, session) : null;
    },

    async participantConnected(participantId, peer) {
      try {
        return await participantConnected(db, { participantId, peer });
      } catch (error) {
        if (error instanceof ParticipantNotFound) return null;
        throw error;
      }
    },
    participantDisconnected: (participantId, peer, pageClosed) =>
      participantDisconnected(db, { participantId, peer, pageClosed }),
    participantAway: (participantId) => participantAway(db, participantId),
    leave: (participantId, reason, actor) => leaveSession(db, { participantId, reason, actor }),

    answerParticipant: (agentId, sessionId, participantId, answer) =>
      attempt(() => answerParticipant(db, { agentId, sessionId, participantId, answer })),

    // An admin's powers as the database has them now: a connection's `admin` was read at its hello
    // and is updated by the control feed, but a notice this worker missed (its listening link was
    // reconnecting, or the hello was being read) must not leave a demoted admin their powers.
    changeControl: (options) =>
      attempt(async () =>
        changeControl(db, { ...options, byAdmin: options.byAdmin && (await participantIsAdmin(options.by)) }),
      ),

    endSession: (options) =>
      attempt(async () =>
        endSessionFor(db, { ...options, admin: options.admin && (await userIsAdmin(options.userId)) }),
      ),

    snapshot: (sessionId) => participantsSnapshot(db, sessionId),
    leftReason: (participantId) => leftReason(db, participantId),

    transition: (options) => attempt(() => transitionSession(db, options)),

    async stop(tenantId, sessionId, reason, actor) {
      return (await stopQuietly(db, tenantId, sessionId, reason, actor)) === 1;
    },

    async resumeAgent(agent, running) {
      const open = await openSessionsOfAgent(db, agent.agentId);
      const wanted = new Set(running);
      const resumed: string[] = [];
      const reask: string[] = [];
      let ended = 0;
      for (const session of open) {
        if (!wanted.has(session.id) && session.status === "pending" && session.agentSeenAt) {
          reask.push(session.id);
        } else if (wanted.has(session.id)) {
          await touchSessionAgents(db, [session.id]);
          await appendEvent(db, {
            tenantId: session.tenantId,
            type: "session_resumed",
            actor: { type: "agent", id: agent.agentId },
            sessionId: session.id,
            agentId: agent.agentId,
            // The gap: since the last refresh of the agent's presence in the session (±one refresh).
            data: session.agentSeenAt ? { gapMs: Date.now() - session.agentSeenAt.getTime() } : {},
          });
          resumed.push(session.id);
        } else if (session.agentSeenAt) {
          // It had the session (the request reached it) and no longer runs it: over.
          ended += await stopQuietly(db, session.tenantId, session.id, "agent_offline", {
            type: "agent",
            id: agent.agentId,
          });
        }
      }
      // Sessions it still runs that are over here (ended while it was away): it must hear so.
      const known = new Set(open.map((o) => o.id));
      const gone = running.filter((id) => !known.has(id));
      const rows = gone.length
        ? await db
            .select({
              id: RemoteSessions.id,
              status: RemoteSessions.status,
              reason: RemoteSessions.endReason,
            })
            .from(RemoteSessions)
            .where(and(inArray(RemoteSessions.id, gone), eq(RemoteSessions.agentId, agent.agentId)))
        : [];
      const over = gone.map((sessionId) => {
        const row = rows.find((r) => r.id === sessionId);
        return {
          sessionId,
          status: row?.status ?? ("ended" as const),
          ...(row?.reason ? { reason: row.reason } : {}),
        };
      });
      return { resumed, ended, over, reask };
    },

    async stopIfAgentAway(sessionId, since) {
      const [row] = await db
        .select({ tenantId: RemoteSessions.tenantId, seen: RemoteSessions.agentSeenAt })
        .from(RemoteSessions)
        .where(eq(RemoteSessions.id, sessionId));
      if (!row || (row.seen && row.seen > since)) return;
      await stopQuietly(db, row.tenantId, sessionId, "agent_offline");
    },

    touchSessionAgents: (sessionIds) => touchSessionAgents(db, sessionIds),
    touchParticipants: (participantIds) => touchParticipants(db, participantIds),
    sweepInterrupted: (before) => sweepInterrupted(db, before),

    listen(onNotice, onInvalid) {
      return handle.listen((payload) => {
        const notice = parseControlNotice(payload);
        if (notice) onNotice(notice);
        else onInvalid(payload);
      });
    },

    async recordClipboard(agent, { sessionId, participantId, allowed, flow, rule, bytes, sha256 }) {
      // The hub checked the connection is in the session; the database has the last word.
      const [session] = await db
        .select({ id: RemoteSessions.id })
        .from(RemoteSessions)
        .where(
          and(
            eq(RemoteSessions.id, sessionId),
            eq(RemoteSessions.agentId, agent.agentId),
            eq(RemoteSessions.tenantId, agent.tenantId),
          ),
        );
      if (!session) return { ok: false, code: "not_found", message: "this agent has no such session" };
      if (participantId) {
        const [participant] = await db
          .select({ id: SessionParticipants.id })
          .from(SessionParticipants)
          .where(
            and(eq(SessionParticipants.id, participantId), eq(SessionParticipants.sessionId, sessionId)),
          );
        if (!participant)
          return { ok: false, code: "not_found", message: "that participant is not in this session" };
      }
      await appendEvent(db, {
        tenantId: agent.tenantId,
        type: allowed ? "clipboard_allowed" : "clipboard_blocked",
        actor: { type: "agent", id: agent.agentId },
        sessionId,
        agentId: agent.agentId,
        data: { flow, bytes, sha256, rule, ...(participantId ? { participantId } : {}) },
      });
      return { ok: true };
    },
  };
}
