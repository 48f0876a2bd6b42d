/** Remote sessions of the caller's tenant: list, inspect with participants and events, request, join, leave, end. */
import { signTicket } from "@rd/auth/tickets";
import {
  Agents,
  Desks,
  openSession,
  EndRefused,
  endSessionFor,
  joinSession,
  JoinRefused,
  leaveSession,
  RecordingRefused,
  Recordings,
  RemoteSessions,
  requestStop,
  startRecording,
  SessionEvents,
  SessionNotFound,
  SessionParticipants,
  Users,
} from "@rd/db";
import { IllegalSessionTransition, isTerminalSessionState, SESSION_STATES } from "@rd/protocol";
import { TRPCError } from "@trpc/server";
import { randomUUID } from "node:crypto";
import { and, asc, count, desc, eq, exists, gt, isNull, sql } from "drizzle-orm";
import { z } from "zod";
import { id, pageInput } from "../inputs.ts";
import { deskOfSession } from "./desk-of-session.ts";
import { withActorNames } from "./event-actors.ts";
import { reviewerCondition } from "./recordings.ts";
import { type AuthedContext, notFound, protectedProcedure, router } from "../trpc.ts";

const sessionColumns = {
  id: RemoteSessions.id,
  status: RemoteSessions.status,
  requestedAt: RemoteSessions.requestedAt,
  startedAt: RemoteSessions.startedAt,
  endedAt: RemoteSessions.endedAt,
  endReason: RemoteSessions.endReason,
  durationMs: RemoteSessions.durationMs,
  connection: RemoteSessions.connection,
  agentId: RemoteSessions.agentId,
  agentName: Agents.name,
  technicianId: RemoteSessions.technicianId,
  technicianName: Users.name,
  controllerId: RemoteSessions.controllerId,
  deskId: RemoteSessions.deskId,
  /** A desk's session: who the desk is for (its candidate joins with no account, so no name of their own). */
  candidateName: Desks.candidateLabel,
};

/**
 * Recording from the live page: what the agent's policy allows and what is under way, Record and
 * Stop. Whoever is in the session (or an admin) may press them, on a policy of "choice".
 */
export const recordingControlProcedures = {
  recording: protectedProcedure.input(z.object({ id: id("Session id") })).query(async ({ ctx, input }) => {
    const [session] = await ctx.db
      .select({ id: RemoteSessions.id, status: RemoteSessions.status, policy: Agents.recordingPolicy })
      .from(RemoteSessions)
      .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    const [latest] = await ctx.db
      .select({
        id: Recordings.id,
        state: Recordings.state,
        stopReason: Recordings.stopReason,
        startedAt: Recordings.startedAt,
        stopRequested: Recordings.stopRequestedAt,
        segmentCount: Recordings.segmentCount,
      })
      .from(Recordings)
      .where(eq(Recordings.sessionId, session.id))
      .orderBy(desc(Recordings.startedAt))
      .limit(1);
    return {
      policy: session.policy,
      configured: !!ctx.recording,
      latest: latest ?? null,
      /** The session has ended (a viewer's own end may be only its leaving). */
      sessionOver: isTerminalSessionState(session.status),
    };
  }),

  record: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    await mayDriveRecording(ctx, input.id);
    if (!ctx.recording)
      throw new TRPCError({
        code: "PRECONDITION_FAILED",
        message: "Recording is not set up on this server.",
      });
    try {
      const recording = await startRecording(ctx.db, {
        id: randomUUID(),
        tenantId: ctx.user.tenantId,
        sessionId: input.id,
        startedBy: ctx.user.id,
        storage: ctx.recording.storage,
        wrappedKey: ctx.recording.newWrappedKey(),
      });
      return { recordingId: recording.id };
    } catch (error) {
      if (error instanceof RecordingRefused)
        throw new TRPCError({ code: "CONFLICT", message: error.message });
      throw error;
    }
  }),

  stopRecording: protectedProcedure
    .input(z.object({ id: id("Session id") }))
    .mutation(async ({ ctx, input }) => {
      await mayDriveRecording(ctx, input.id);
      const [live] = await ctx.db
        .select({ id: Recordings.id })
        .from(Recordings)
        .where(and(eq(Recordings.sessionId, input.id), eq(Recordings.state, "recording")));
      if (!live) throw new TRPCError({ code: "CONFLICT", message: "This session is not being recorded." });
      try {
        await requestStop(ctx.db, { tenantId: ctx.user.tenantId, recordingId: live.id, userId: ctx.user.id });
        return { recordingId: live.id };
      } catch (error) {
        if (error instanceof RecordingRefused)
          throw new TRPCError({ code: "CONFLICT", message: error.message });
        throw error;
      }
    }),
};

export const sessionsRouter = router({
  list: protectedProcedure
    .input(
      z.object({
        status: z.enum(SESSION_STATES).optional(),
        agentId: id("Agent id").optional(),
        technicianId: id("Technician id").optional(),
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      const where = and(
        eq(RemoteSessions.tenantId, ctx.user.tenantId),
        input.status ? eq(RemoteSessions.status, input.status) : undefined,
        input.agentId ? eq(RemoteSessions.agentId, input.agentId) : undefined,
        input.technicianId ? eq(RemoteSessions.technicianId, input.technicianId) : undefined,
      );
      // Whether the list may offer a replay: a recording with pictures that retention kept, which
      // the caller may review.
      const replayable = and(
        exists(
          ctx.db
            .select({ one: Recordings.id })
            .from(Recordings)
            .where(
              and(
                eq(Recordings.sessionId, RemoteSessions.id),
                eq(Recordings.tenantId, RemoteSessions.tenantId),
                isNull(Recordings.deletedAt),
                // One that failed before its first segment has nothing to play.
                gt(Recordings.segmentCount, 0),
              ),
            ),
        ),
        reviewerCondition(ctx.db, ctx.user),
      )!;
      const [items, [total]] = await Promise.all([
        ctx.db
          .select({ ...sessionColumns, replayable: sql<boolean>`${replayable}`.mapWith(Boolean) })
          .from(RemoteSessions)
          .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
          .innerJoin(Users, eq(Users.id, RemoteSessions.technicianId))
          .leftJoin(Desks, deskOfSession)
          .where(where)
          .orderBy(desc(RemoteSessions.requestedAt))
          .limit(input.limit)
          .offset(input.offset),
        ctx.db.select({ n: count() }).from(RemoteSessions).where(where),
      ]);
      return { items, total: total?.n ?? 0 };
    }),

  byId: protectedProcedure.input(z.object({ id: id("Session id") })).query(async ({ ctx, input }) => {
    const [session] = await ctx.db
      .select(sessionColumns)
      .from(RemoteSessions)
      .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
      .innerJoin(Users, eq(Users.id, RemoteSessions.technicianId))
      .leftJoin(Desks, deskOfSession)
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    const [events, participants] = await Promise.all([
      ctx.db
        .select()
        .from(SessionEvents)
        .where(and(eq(SessionEvents.sessionId, session.id), eq(SessionEvents.tenantId, ctx.user.tenantId)))
        .orderBy(asc(SessionEvents.seq)),
      ctx.db
        .select({
          id: SessionParticipants.id,
          userId: SessionParticipants.userId,
          name: Users.name,
          email: Users.email,
          kind: SessionParticipants.kind,
          joinedAt: SessionParticipants.joinedAt,
          leftAt: SessionParticipants.leftAt,
          leftReason: SessionParticipants.leftReason,
          connected: SessionParticipants.connected,
        })
        .from(SessionParticipants)
        .leftJoin(Users, eq(Users.id, SessionParticipants.userId))
        .where(
          and(
            eq(SessionParticipants.sessionId, session.id),
            eq(SessionParticipants.tenantId, ctx.user.tenantId),
          ),
        )
        .orderBy(asc(SessionParticipants.joinedAt)),
    ]);
    const mine = participants.find((p) => p.userId === ctx.user.id && !p.leftAt);
    return {
      ...session,
      participants,
      /** The caller's own live participation, if any: the live page rejoins it. */
      myParticipantId: mine?.id ?? null,
      events: await withActorNames(ctx.db, ctx.user.tenantId, events),
    };
  }),

  /**
   * Records a technician's request to connect, with the technician as its first participant (the
   * owner), and returns a ticket for the signaling worker, which forwards the request to the agent
   * once the browser connects with it.
   */
  create: protectedProcedure.input(z.object({ agentId: id("Agent id") })).mutation(async ({ ctx, input }) => {
    const { session, participant } = await ctx.db.transaction(async (tx) => {
      const [agent] = await tx
        .select({ id: Agents.id, name: Agents.name, removedAt: Agents.removedAt, deskId: Agents.deskId })
        .from(Agents)
        .where(and(eq(Agents.id, input.agentId), eq(Agents.tenantId, ctx.user.tenantId)));
      // A desk's agent is reached through its desk (Watch), where its candidate is.
      if (!agent || agent.removedAt || agent.deskId) throw notFound("Agent");
      const row = await openSession(tx, {
        values: { tenantId: ctx.user.tenantId, agentId: agent.id, technicianId: ctx.user.id },
        actor: { type: "user", id: ctx.user.id },
        data: { technician: ctx.user.email, agent: agent.name },
      });
      const owner = await joinSession(tx, {
        tenantId: ctx.user.tenantId,
        sessionId: row.id,
        userId: ctx.user.id,
        actor: { type: "user", id: ctx.user.id },
        opener: true,
      });
      return { session: row, participant: owner };
    });
    return {
      session,
      participantId: participant.id,
      ...(await issueTicket(ctx, session.id, participant.id)),
    };
  }),

  /**
   * Joins a live session of the tenant as an observer (technicians and admins alike) and returns a
   * ticket. Already in it (another tab), the same participation is returned.
   */
  join: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    try {
      const participant = await joinSession(ctx.db, {
        tenantId: ctx.user.tenantId,
        sessionId: input.id,
        userId: ctx.user.id,
        actor: { type: "user", id: ctx.user.id },
        ...(ctx.maxObservers !== undefined ? { maxObservers: ctx.maxObservers } : {}),
      });
      return { participantId: participant.id, ...(await issueTicket(ctx, input.id, participant.id)) };
    } catch (error) {
      if (error instanceof SessionNotFound) throw notFound("Session");
      if (error instanceof JoinRefused) throw new TRPCError({ code: "CONFLICT", message: error.message });
      throw error;
    }
  }),

  /**
   * A fresh ticket for the caller's participation in a session that is still open: a reload of the
   * live page, or the viewer reconnecting to a restarted signaling worker.
   */
  ticket: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    const [session] = await ctx.db
      .select({ status: RemoteSessions.status })
      .from(RemoteSessions)
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    if (isTerminalSessionState(session.status)) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `This session has ${session.status.replace("_", " ")}; start a new one.`,
      });
    }
    const participant = await myParticipation(ctx, input.id);
    if (!participant) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "You are not in this session. Join it to watch.",
      });
    }
    return { participantId: participant.id, ...(await issueTicket(ctx, input.id, participant.id)) };
  }),

  /** Leaves a session (the viewer's signaling link may be gone); it ends if nobody who can drive stays. */
  leave: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    const participant = await myParticipation(ctx, input.id);
    if (!participant) return { left: false };
    await leaveSession(ctx.db, {
      participantId: participant.id,
      reason: "left",
      actor: { type: "user", id: ctx.user.id },
    });
    return { left: true };
  }),

  /**
   * Ends a session that is still open, for everyone in it. The technician who opened it, whoever has
   * control, and admins may.
   */
  ...recordingControlProcedures,

  end: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    try {
      return await endSessionFor(ctx.db, {
        tenantId: ctx.user.tenantId,
        sessionId: input.id,
        userId: ctx.user.id,
        admin: ctx.user.role === "admin",
      });
    } catch (error) {
      if (error instanceof EndRefused) throw new TRPCError({ code: "FORBIDDEN", message: error.message });
      if (error instanceof IllegalSessionTransition)
        throw new TRPCError({ code: "CONFLICT", message: `${error.message}.` });
      if (error instanceof SessionNotFound) throw notFound("Session");
      throw error;
    }
  }),
});

/** Record and Stop are for the people in the session and for admins; the rest of the tenant gets 404. */
async function mayDriveRecording(ctx: AuthedContext, sessionId: string) {
  const [session] = await ctx.db
    .select({ id: RemoteSessions.id })
    .from(RemoteSessions)
    .where(and(eq(RemoteSessions.id, sessionId), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
  if (!session) throw notFound("Session");
  if (ctx.user.role === "admin") return;
  if (!(await myParticipation(ctx, sessionId)))
    throw new TRPCError({ code: "FORBIDDEN", message: "Only the people in this session may record it." });
}

/** The caller's live participation in a session of their tenant, if any. */
async function myParticipation(ctx: AuthedContext, sessionId: string) {
  const [row] = await ctx.db
    .select({ id: SessionParticipants.id })
    .from(SessionParticipants)
    .where(
      and(
        eq(SessionParticipants.sessionId, sessionId),
        eq(SessionParticipants.tenantId, ctx.user.tenantId),
        eq(SessionParticipants.userId, ctx.user.id),
        isNull(SessionParticipants.leftAt),
      ),
    );
  return row;
}

/** A signaling ticket for the caller's participation in a session (tickets.ts). */
export async function issueTicket(ctx: AuthedContext, sessionId: string, participantId: string) {
  const { ticket, expiresAt } = await signTicket(ctx.ticketKey, {
    sid: sessionId,
    tid: ctx.user.tenantId,
    uid: ctx.user.id,
    pid: participantId,
    role: "technician",
    name: ctx.user.name,
    email: ctx.user.email,
  });
  return { ticket, ticketExpiresAt: expiresAt };
}
