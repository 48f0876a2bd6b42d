/**
 * Participants of a session and its control, in the database: join, admit, refuse, connect,
 * disconnect, leave, and the control table's actions (packages/protocol participants.ts). Each runs
 * in one transaction under the session's row lock, so two changes to one session queue up; writes
 * its audit event; bumps the session's participants version; and announces the change on the
 * control feed. When the last participant who could drive leaves, the session stops through
 * transitionSession in that same transaction: one control path, whoever causes the change.
 */
import {
  applyControl,
  type ControlAction,
  type ControlActor,
  IllegalControlChange,
  isTerminalSessionState,
  nextParticipantState,
  type ParticipantLeaveReason,
  type ParticipantState,
  type ParticipantView,
  IllegalSessionTransition,
  SESSION_LIMITS,
  SESSION_STATES,
  type SessionEndReason,
  type SessionState,
  stopTransition,
} from "@rd/protocol";
import { and, asc, eq, inArray, isNull, lt, or } from "drizzle-orm";
import { appendEvent } from "./audit.ts";
import type { Executor } from "./client.ts";
import { notifyControl } from "./control-feed.ts";
import { inTransaction } from "./in-transaction.ts";
import {
  type ActorType,
  Desks,
  type RemoteSession,
  RemoteSessions,
  type SessionParticipant,
  SessionParticipants,
  Tenants,
  Users,
} from "./schema.ts";
import { SessionNotFound, transitionSession } from "./sessions.ts";

export { IllegalControlChange };

type Actor = { type: ActorType; id?: string | null };

export class ParticipantNotFound extends Error {
  constructor() {
    super("You are not in this session (any more). Join it again from the dashboard.");
    this.name = "ParticipantNotFound";
  }
}

/** A join refused: the session is over, or full. The message says which. */
export class JoinRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "JoinRefused";
  }
}

/** The states a session can still change from. */
const OPEN_STATES = SESSION_STATES.filter((state) => !isTerminalSessionState(state));

/** Locks the session row: every participant or control change of one session runs one at a time. */
async function lockSession(tx: Executor, sessionId: string, tenantId?: string): Promise<RemoteSession> {
  const [session] = await tx
    .select()
    .from(RemoteSessions)
    .where(
      and(eq(RemoteSessions.id, sessionId), tenantId ? eq(RemoteSessions.tenantId, tenantId) : undefined),
    )
    .for("update");
  if (!session) throw new SessionNotFound();
  return session;
}

/**
 * Locks the session of a participant and reads the participant under that lock (what it was before
 * the lock may be out of date); null when the participant does not exist.
 */
async function lockParticipant(
  tx: Executor,
  participantId: string,
): Promise<{ session: RemoteSession; participant: SessionParticipant } | null> {
  const [found] = await tx
    .select({ sessionId: SessionParticipants.sessionId })
    .from(SessionParticipants)
    .where(eq(SessionParticipants.id, participantId));
  if (!found) return null;
  const session = await lockSession(tx, found.sessionId);
  const [participant] = await tx
    .select()
    .from(SessionParticipants)
    .where(eq(SessionParticipants.id, participantId));
  return participant ? { session, participant } : null;
}

/** Marks that participants or control changed, and tells every process. */
async function bump(tx: Executor, session: RemoteSession, controllerId?: string | null): Promise<number> {
  const version = session.participantsVersion + 1;
  await tx
    .update(RemoteSessions)
    .set({ participantsVersion: version, ...(controllerId !== undefined ? { controllerId } : {}) })
    .where(eq(RemoteSessions.id, session.id));
  session.participantsVersion = version;
  if (controllerId !== undefined) session.controllerId = controllerId;
  await notifyControl(tx, { kind: "participants", sessionId: session.id, agentId: session.agentId, version });
  return version;
}

const stateOf = (p: SessionParticipant): ParticipantState =>
  p.leftAt ? "left" : p.admittedAt ? "admitted" : "waiting";

/** Who may drive: an admitted person (a technician, or a desk's candidate) still in the session. */
const capable = (p: SessionParticipant) =>
  (p.kind === "technician" || p.kind === "candidate") && stateOf(p) === "admitted";

async function liveParticipants(tx: Executor, sessionId: string): Promise<SessionParticipant[]> {
  return tx
    .select()
    .from(SessionParticipants)
    .where(and(eq(SessionParticipants.sessionId, sessionId), isNull(SessionParticipants.leftAt)))
    .orderBy(asc(SessionParticipants.joinedAt));
}

async function participantEvent(
  tx: Executor,
  session: RemoteSession,
  type: string,
  actor: Actor,
  data: Record<string, unknown>,
) {
  await appendEvent(tx, {
    tenantId: session.tenantId,
    type,
    actor,
    sessionId: session.id,
    agentId: session.agentId,
    data,
  });
}

/**
 * A desk's candidate enters its session through their share link: admitted at once (the desk is
 * theirs), in control when nobody else has it. Their participation is tied to the link, so revoking
 * the link takes them out (revokeDeskLinkParticipants). Already in it, the same participation is
 * returned (a reload, a reconnect).
 */
export async function joinAsCandidate(
  executor: Executor,
  options: { tenantId: string; sessionId: string; deskLinkId: string },
): Promise<SessionParticipant> {
  return executor.transaction(async (tx) => {
    const session = await lockSession(tx, options.sessionId, options.tenantId);
    if (isTerminalSessionState(session.status)) throw new JoinRefused("This desk's session has ended.");
    const live = await liveParticipants(tx, session.id);
    const mine = live.find((p) => p.kind === "candidate" && p.deskLinkId === options.deskLinkId);
    if (mine) return mine;
    const now = new Date();
    const [row] = await tx
      .insert(SessionParticipants)
      .values({
        tenantId: session.tenantId,
        sessionId: session.id,
        kind: "candidate",
        deskLinkId: options.deskLinkId,
        joinedAt: now,
        admittedAt: now,
      })
      .returning();
    await participantEvent(
      tx,
      session,
      "participant_joined",
      { type: "system" },
      {
        participantId: row!.id,
        candidate: true,
        linkId: options.deskLinkId,
      },
    );
    await bump(tx, session, session.controllerId ?? row!.id);
    return row!;
  });
}

/**
 * The server-side recorder joins a session for one recording: admitted at once (the agent's
 * recording policy allowed it, and every party sees a participant of kind "recorder"), never in
 * control. Already in it for this recording, the same participation is returned.
 */
export async function joinAsRecorder(
  executor: Executor,
  options: { tenantId: string; sessionId: string; recordingId: string; participantId?: string | null },
): Promise<SessionParticipant> {
  return executor.transaction(async (tx) => {
    const session = await lockSession(tx, options.sessionId, options.tenantId);
    if (isTerminalSessionState(session.status)) throw new JoinRefused("This session has ended.");
    const live = await liveParticipants(tx, session.id);
    const mine = live.find((p) => p.kind === "recorder" && p.id === options.participantId);
    if (mine) return mine;
    const now = new Date();
    const [row] = await tx
      .insert(SessionParticipants)
      .values({
        tenantId: session.tenantId,
        sessionId: session.id,
        kind: "recorder",
        joinedAt: now,
        admittedAt: now,
      })
      .returning();
    await participantEvent(
      tx,
      session,
      "participant_joined",
      { type: "system" },
      {
        participantId: row!.id,
        recorder: true,
        recordingId: options.recordingId,
      },
    );
    await bump(tx, session);
    return row!;
  });
}

/** A share link was revoked or replaced: whoever came through it leaves their session now. */
export async function revokeDeskLinkParticipants(
  executor: Executor,
  { deskLinkIds, actor }: { deskLinkIds: string[]; actor: Actor },
): Promise<number> {
  if (deskLinkIds.length === 0) return 0;
  const open = await executor
    .select({ id: SessionParticipants.id })
    .from(SessionParticipants)
    .where(and(inArray(SessionParticipants.deskLinkId, deskLinkIds), isNull(SessionParticipants.leftAt)));
  for (const { id } of open)
    await leaveSession(executor, { participantId: id, reason: "link_revoked", actor });
  return open.length;
}

/** The email of each participant's user, for readable audit data. */
async function emails(tx: Executor, userIds: (string | null)[]): Promise<Map<string, string>> {
  const ids = userIds.filter((id): id is string => !!id);
  if (ids.length === 0) return new Map();
  const rows = await tx
    .select({ id: Users.id, email: Users.email })
    .from(Users)
    .where(inArray(Users.id, ids));
  return new Map(rows.map((r) => [r.id, r.email]));
}

export interface JoinOptions {
  tenantId: string;
  sessionId: string;
  userId: string;
  actor: Actor;
  /**
   * The opener at creation: admitted with the session's own consent, in control from the start,
   * with no separate join event (session_requested says it all).
   */
  opener?: boolean;
  /** Most observers besides the controller; SESSION_LIMITS.observers by default. */
  maxObservers?: number;
}

/**
 * Adds a person to a session, or returns their participation if they are in it already (a second
 * tab, a reload). Refused when the session is over or full.
 */
export async function joinSession(executor: Executor, options: JoinOptions): Promise<SessionParticipant> {
  return inTransaction(executor, async (tx) => {
    const session = await lockSession(tx, options.sessionId, options.tenantId);
    if (isTerminalSessionState(session.status)) {
      throw new JoinRefused(
        `This session has ${session.status === "ended" ? "ended" : `been ${session.status}`}.`,
      );
    }
    const live = await liveParticipants(tx, session.id);
    const mine = live.find((p) => p.userId === options.userId);
    if (mine) return mine;
    const max = options.maxObservers ?? SESSION_LIMITS.observers;
    // The controller (or, with nobody in control, the first) is not counted as an observer.
    const people = live.filter((p) => p.kind === "technician").length;
    if (!options.opener && people >= max + 1) {
      throw new JoinRefused(`This session already has ${max} observers, the most it can have.`);
    }
    const now = new Date();
    const [row] = await tx
      .insert(SessionParticipants)
      .values({
        tenantId: session.tenantId,
        sessionId: session.id,
        userId: options.userId,
        kind: "technician",
        joinedAt: now,
        admittedAt: options.opener ? now : null,
      })
      .returning();
    if (!options.opener) {
      const email = (await emails(tx, [options.userId])).get(options.userId);
      await participantEvent(tx, session, "participant_joined", options.actor, {
        participantId: row!.id,
        user: email,
      });
    }
    // The technician who opens a session drives it from the start: Connect means "let me control it".
    await bump(tx, session, options.opener ? row!.id : undefined);
    return row!;
  });
}

/**
 * A viewer connected (or reconnected, maybe from a new page: `peer`); resolves with the session's
 * participants version that says so. ParticipantNotFound when the participant has left meanwhile.
 */
export async function participantConnected(
  executor: Executor,
  { participantId, peer }: { participantId: string; peer: string | null },
): Promise<number> {
  return executor.transaction(async (tx) => {
    const locked = await lockParticipant(tx, participantId);
    if (!locked || locked.participant.leftAt) throw new ParticipantNotFound();
    await tx
      .update(SessionParticipants)
      .set({ connected: true, peer, seenAt: new Date() })
      .where(eq(SessionParticipants.id, participantId));
    return bump(tx, locked.session);
  });
}

/**
 * A viewer's connection closed. Only the connection of `peer` counts: a reload's old page closing
 * after its new one connected must not mark the participant gone. `pageClosed` says the page itself
 * went (its peer connection with it), not only its signaling link: the agent drops that peer.
 */
export async function participantDisconnected(
  executor: Executor,
  {
    participantId,
    peer,
    pageClosed = false,
  }: { participantId: string; peer: string | null; pageClosed?: boolean },
): Promise<void> {
  await executor.transaction(async (tx) => {
    const locked = await lockParticipant(tx, participantId);
    const p = locked?.participant;
    // Only the connection of this page counts, and only while the participant is in and connected.
    if (!locked || !p || p.leftAt || !p.connected || p.peer !== peer) return;
    await tx
      .update(SessionParticipants)
      .set({ connected: false, ...(pageClosed ? { peer: null } : {}) })
      .where(eq(SessionParticipants.id, participantId));
    await bump(tx, locked.session);
  });
}

/** Why a participant left, once they have. */
export async function leftReason(executor: Executor, participantId: string): Promise<string | null> {
  const [row] = await executor
    .select({ reason: SessionParticipants.leftReason })
    .from(SessionParticipants)
    .where(eq(SessionParticipants.id, participantId));
  return row?.reason ?? null;
}

/** Whether the participant is away: in the session but not connected (a grace timer's check). */
export async function participantAway(executor: Executor, participantId: string): Promise<boolean> {
  const [row] = await executor
    .select({ connected: SessionParticipants.connected, leftAt: SessionParticipants.leftAt })
    .from(SessionParticipants)
    .where(eq(SessionParticipants.id, participantId));
  return !!row && !row.leftAt && !row.connected;
}

/** The reason the session stops with when its last driver leaves for `reason`. */
function sessionReasonFor(reason: ParticipantLeaveReason): SessionEndReason {
  if (reason === "user_deactivated") return "user_deactivated";
  if (reason === "interrupted") return "interrupted";
  if (reason === "link_revoked") return "link_revoked";
  return "viewer_left";
}

async function leaveLocked(
  tx: Executor,
  session: RemoteSession,
  participant: SessionParticipant,
  reason: ParticipantLeaveReason,
  actor: Actor,
) {
  const refused = reason === "denied_by_user" || reason === "consent_timeout";
  nextParticipantState(stateOf(participant), refused ? "refuse" : "leave");
  const now = new Date();
  const live = await liveParticipants(tx, session.id);
  const requests = live.filter((p) => p.controlRequestedAt).map((p) => p.id);
  const { state, event } = applyControl(
    { controller: session.controllerId, requests },
    { type: "drop", by: { id: participant.id, capable: false, mayTake: false } },
  );
  await tx
    .update(SessionParticipants)
    .set({ leftAt: now, leftReason: reason, connected: false, controlRequestedAt: null })
    .where(eq(SessionParticipants.id, participant.id));
  const email = (await emails(tx, [participant.userId])).get(participant.userId ?? "");
  await participantEvent(tx, session, refused ? "participant_refused" : "participant_left", actor, {
    participantId: participant.id,
    user: email,
    reason,
  });
  if (event)
    await participantEvent(tx, session, event, actor, { participantId: participant.id, user: email });
  await bump(tx, session, state.controller);
  const drivers = live.filter((p) => p.id !== participant.id && capable(p));
  if (drivers.length === 0 && !isTerminalSessionState(session.status)) {
    await transitionSession(tx, {
      tenantId: session.tenantId,
      sessionId: session.id,
      transition: "end",
      actor,
      reason: sessionReasonFor(reason),
    });
  }
}

/**
 * The participant leaves (on purpose, gone past the grace period, deactivated, interrupted). When
 * nobody who could drive is left, the session ends too. Leaving twice changes nothing.
 */
export async function leaveSession(
  executor: Executor,
  { participantId, reason, actor }: { participantId: string; reason: ParticipantLeaveReason; actor: Actor },
): Promise<void> {
  await executor.transaction(async (tx) => {
    const locked = await lockParticipant(tx, participantId);
    if (!locked || locked.participant.leftAt) return;
    await leaveLocked(tx, locked.session, locked.participant, reason, actor);
  });
}

/** The agent admits or refuses a participant who joined after the session started. */
export async function answerParticipant(
  executor: Executor,
  options: {
    sessionId: string;
    agentId: string;
    participantId: string;
    answer: "admit" | "denied_by_user" | "consent_timeout";
  },
): Promise<void> {
  await executor.transaction(async (tx) => {
    const session = await lockSession(tx, options.sessionId);
    if (session.agentId !== options.agentId) throw new SessionNotFound();
    const [participant] = await tx
      .select()
      .from(SessionParticipants)
      .where(
        and(eq(SessionParticipants.id, options.participantId), eq(SessionParticipants.sessionId, session.id)),
      );
    if (!participant) throw new ParticipantNotFound();
    const actor = { type: "agent" as const, id: options.agentId };
    if (options.answer !== "admit") {
      await leaveLocked(tx, session, participant, options.answer, actor);
      return;
    }
    nextParticipantState(stateOf(participant), "admit");
    await tx
      .update(SessionParticipants)
      .set({ admittedAt: new Date() })
      .where(eq(SessionParticipants.id, participant.id));
    const email = (await emails(tx, [participant.userId])).get(participant.userId ?? "");
    await participantEvent(tx, session, "participant_admitted", actor, {
      participantId: participant.id,
      user: email,
    });
    await bump(tx, session);
  });
}

export type ControlRequest = "request" | "grant" | "release" | "take";

/**
 * Applies one control action for participant `by` (the control table decides); throws
 * IllegalControlChange with a sentence when it is not allowed.
 */
export async function changeControl(
  executor: Executor,
  options: {
    sessionId: string;
    by: string;
    action: ControlRequest;
    /** For "grant": who gets control. */
    to?: string;
    /** The acting user is an admin of the tenant (may take control). */
    byAdmin: boolean;
  },
): Promise<{ controllerId: string | null }> {
  return executor.transaction(async (tx) => {
    const session = await lockSession(tx, options.sessionId);
    if (session.status !== "active") {
      throw new IllegalControlChange(options.action, "Control changes hands only while the session is live.");
    }
    const live = await liveParticipants(tx, session.id);
    const byRow = live.find((p) => p.id === options.by);
    if (!byRow) throw new ParticipantNotFound();
    // On a desk every interviewer may take control (to point at something) and hand it back; a
    // candidate may not take it from them, only ask.
    const actorOf = (p: SessionParticipant, admin: boolean): ControlActor => ({
      id: p.id,
      capable: capable(p),
      mayTake:
        p.userId === session.technicianId || admin || (session.deskId !== null && p.kind === "technician"),
    });
    const by = actorOf(byRow, options.byAdmin);
    const requests = live.filter((p) => p.controlRequestedAt).map((p) => p.id);
    let action: ControlAction;
    if (options.action === "grant") {
      const toRow = live.find((p) => p.id === options.to);
      if (!toRow) throw new IllegalControlChange("grant", "That participant is no longer in the session.");
      action = { type: "grant", by, to: actorOf(toRow, false) };
    } else action = { type: options.action, by };
    const { state, event } = applyControl({ controller: session.controllerId, requests }, action);

    const now = new Date();
    const asked = new Set(state.requests);
    for (const p of live) {
      const wants = asked.has(p.id);
      if (wants !== !!p.controlRequestedAt) {
        await tx
          .update(SessionParticipants)
          .set({ controlRequestedAt: wants ? now : null })
          .where(eq(SessionParticipants.id, p.id));
      }
    }
    if (event) {
      const mail = await emails(
        tx,
        live.map((p) => p.userId),
      );
      const label = (id: string | null) => {
        const p = live.find((x) => x.id === id);
        return p ? (mail.get(p.userId ?? "") ?? p.id) : null;
      };
      // Each event names what it is about: who asked; who handed to whom; who took it from whom.
      const data =
        event === "control_requested" || event === "control_released"
          ? { by: label(byRow.id) }
          : event === "control_taken"
            ? { by: label(byRow.id), from: label(session.controllerId) }
            : { by: label(byRow.id), from: label(session.controllerId), to: label(state.controller) };
      await participantEvent(tx, session, event, { type: "user", id: byRow.userId }, data);
    }
    await bump(tx, session, state.controller);
    return { controllerId: state.controller };
  });
}

/** Everyone in the session as its parties see them, with the version to order snapshots by. */
export async function participantsSnapshot(
  executor: Executor,
  sessionId: string,
): Promise<{
  status: RemoteSession["status"];
  /** Why it ended, once it has: a party catching up hears the same reason as those who were there. */
  endReason: string | null;
  version: number;
  controllerId: string | null;
  participants: ParticipantView[];
} | null> {
  const [session] = await executor
    .select({
      status: RemoteSessions.status,
      endReason: RemoteSessions.endReason,
      version: RemoteSessions.participantsVersion,
      controllerId: RemoteSessions.controllerId,
      technicianId: RemoteSessions.technicianId,
      candidateLabel: Desks.candidateLabel,
    })
    .from(RemoteSessions)
    .leftJoin(Desks, eq(Desks.id, RemoteSessions.deskId))
    .where(eq(RemoteSessions.id, sessionId));
  if (!session) return null;
  const rows = await executor
    .select({ p: SessionParticipants, name: Users.name, email: Users.email, tenant: Tenants.name })
    .from(SessionParticipants)
    .leftJoin(Users, eq(Users.id, SessionParticipants.userId))
    .innerJoin(Tenants, eq(Tenants.id, SessionParticipants.tenantId))
    .where(and(eq(SessionParticipants.sessionId, sessionId), isNull(SessionParticipants.leftAt)))
    .orderBy(asc(SessionParticipants.joinedAt));
  return {
    status: session.status,
    endReason: session.endReason,
    version: session.version,
    controllerId: session.controllerId,
    participants: rows.map(({ p, name, email, tenant }) => ({
      id: p.id,
      userId: p.userId,
      // A candidate has no account: their desk's label names them ("Candidate" if it has none).
      name:
        name ??
        (p.kind === "candidate"
          ? session.candidateLabel || "Candidate"
          : p.kind === "recorder"
            ? "Recorder"
            : p.kind),
      email: email ?? "",
      tenant,
      kind: p.kind,
      owner: !!p.userId && p.userId === session.technicianId,
      admitted: !!p.admittedAt,
      connected: p.connected,
      // Kept while away (a signaling blip leaves the picture flowing); null once the page closed.
      peer: p.peer,
      requestingControl: !!p.controlRequestedAt,
    })),
  };
}

/** A user was deactivated: every participation of theirs ends now, and every worker drops their sockets. */
export async function revokeUser(
  executor: Executor,
  { userId, actor }: { userId: string; actor: Actor },
): Promise<void> {
  const open = await executor
    .select({ id: SessionParticipants.id })
    .from(SessionParticipants)
    .where(and(eq(SessionParticipants.userId, userId), isNull(SessionParticipants.leftAt)));
  for (const { id } of open)
    await leaveSession(executor, { participantId: id, reason: "user_deactivated", actor });
  await notifyControl(executor, { kind: "user-revoked", userId });
}

// ——— Liveness (the signaling workers) ———

/** Refreshes the participants whose connections this worker holds. */
export async function touchParticipants(executor: Executor, participantIds: string[]): Promise<void> {
  if (participantIds.length === 0) return;
  await executor
    .update(SessionParticipants)
    .set({ seenAt: new Date() })
    .where(inArray(SessionParticipants.id, participantIds));
}

/** Refreshes the sessions whose agent connection this worker holds. */
export async function touchSessionAgents(executor: Executor, sessionIds: string[]): Promise<void> {
  if (sessionIds.length === 0) return;
  await executor
    .update(RemoteSessions)
    .set({ agentSeenAt: new Date() })
    .where(inArray(RemoteSessions.id, sessionIds));
}

/**
 * Ends what nobody holds any more, for when the worker that held it died without a word: open
 * sessions whose agent has not been seen since `before` end as `interrupted`, and participants
 * not seen since then leave as `interrupted` (the last one's leaving ends its session). Every
 * worker runs it; a session ended twice is refused by the state table and skipped.
 */
export async function sweepInterrupted(executor: Executor, before: Date): Promise<number> {
  const staleSessions = await executor
    .select({ id: RemoteSessions.id, tenantId: RemoteSessions.tenantId })
    .from(RemoteSessions)
    .where(
      and(
        inArray(RemoteSessions.status, OPEN_STATES),
        or(
          lt(RemoteSessions.agentSeenAt, before),
          and(isNull(RemoteSessions.agentSeenAt), lt(RemoteSessions.requestedAt, before)),
        ),
      ),
    );
  let ended = 0;
  for (const s of staleSessions) {
    ended += await stopQuietly(executor, s.tenantId, s.id, "interrupted");
  }
  const staleParticipants = await executor
    .select({ id: SessionParticipants.id })
    .from(SessionParticipants)
    .innerJoin(RemoteSessions, eq(RemoteSessions.id, SessionParticipants.sessionId))
    .where(
      and(
        isNull(SessionParticipants.leftAt),
        inArray(RemoteSessions.status, OPEN_STATES),
        or(
          lt(SessionParticipants.seenAt, before),
          and(isNull(SessionParticipants.seenAt), lt(SessionParticipants.joinedAt, before)),
        ),
      ),
    );
  for (const p of staleParticipants) {
    await leaveSession(executor, { participantId: p.id, reason: "interrupted", actor: { type: "system" } });
  }
  return ended;
}

/** Stops an open session for `reason`; 1 when it did, 0 when it was over already. */
export async function stopQuietly(
  executor: Executor,
  tenantId: string,
  sessionId: string,
  reason: SessionEndReason,
  actor: Actor = { type: "system" },
): Promise<number> {
  try {
    await transitionSession(executor, {
      tenantId,
      sessionId,
      transition: stopTransition(reason),
      actor,
      reason,
    });
    return 1;
  } catch (error) {
    if (error instanceof IllegalSessionTransition) return 0;
    throw error;
  }
}

/**
 * The agent's open sessions, for its reconnect, with when a worker last saw the agent in each (null:
 * the request never reached it).
 */
export async function openSessionsOfAgent(
  executor: Executor,
  agentId: string,
): Promise<{ id: string; tenantId: string; status: SessionState; agentSeenAt: Date | null }[]> {
  return executor
    .select({
      id: RemoteSessions.id,
      tenantId: RemoteSessions.tenantId,
      status: RemoteSessions.status,
      agentSeenAt: RemoteSessions.agentSeenAt,
    })
    .from(RemoteSessions)
    .where(and(eq(RemoteSessions.agentId, agentId), inArray(RemoteSessions.status, OPEN_STATES)));
}

/** An end refused to this user: only the opener, whoever has control, or an admin may end a session. */
export class EndRefused extends Error {
  constructor() {
    super(
      "Only the technician who opened this session, whoever has control, or an administrator can end it; others can leave it.",
    );
    this.name = "EndRefused";
  }
}

/**
 * Ends a session for everyone on a user's behalf (the dashboard's End session, or a viewer's
 * session/end): its opener, whoever has control, or an admin may. SessionNotFound outside the
 * tenant, EndRefused for anyone else, IllegalSessionTransition when it is over already.
 */
export async function endSessionFor(
  executor: Executor,
  options: { tenantId: string; sessionId: string; userId: string; admin: boolean },
): Promise<RemoteSession> {
  const [row] = await executor
    .select({ owner: RemoteSessions.technicianId, controller: SessionParticipants.userId })
    .from(RemoteSessions)
    .leftJoin(SessionParticipants, eq(SessionParticipants.id, RemoteSessions.controllerId))
    .where(and(eq(RemoteSessions.id, options.sessionId), eq(RemoteSessions.tenantId, options.tenantId)));
  if (!row) throw new SessionNotFound();
  const owner = row.owner === options.userId;
  if (!owner && !options.admin && row.controller !== options.userId) throw new EndRefused();
  return transitionSession(executor, {
    tenantId: options.tenantId,
    sessionId: options.sessionId,
    transition: "end",
    actor: { type: "user", id: options.userId },
    reason: options.admin && !owner ? "ended_by_admin" : "ended_by_technician",
  });
}
