/** Remote sessions of the caller's tenant: list, inspect with events, request, end. */
import { signTicket } from "@rd/auth/tickets";
import {
  Agents,
  appendEvent,
  RemoteSessions,
  SessionEvents,
  SessionNotFound,
  transitionSession,
  Users,
} from "@rd/db";
import { IllegalSessionTransition, isTerminalSessionState, SESSION_STATES } from "@rd/protocol";
import { TRPCError } from "@trpc/server";
import { and, asc, count, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { id, pageInput } from "../inputs.ts";
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
      const [items, [total]] = await Promise.all([
        ctx.db
          .select(sessionColumns)
          .from(RemoteSessions)
          .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
          .innerJoin(Users, eq(Users.id, RemoteSessions.technicianId))
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
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    const events = await ctx.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.sessionId, session.id), eq(SessionEvents.tenantId, ctx.user.tenantId)))
      .orderBy(asc(SessionEvents.seq));
    return { ...session, events };
  }),

  /**
   * Records a technician's request to connect and returns a ticket for the signaling worker, which
   * forwards the request to the agent once the browser connects with it.
   */
  create: protectedProcedure.input(z.object({ agentId: id("Agent id") })).mutation(async ({ ctx, input }) => {
    const session = await ctx.db.transaction(async (tx) => {
      const [agent] = await tx
        .select({ id: Agents.id, name: Agents.name, removedAt: Agents.removedAt })
        .from(Agents)
        .where(and(eq(Agents.id, input.agentId), eq(Agents.tenantId, ctx.user.tenantId)));
      if (!agent || agent.removedAt) throw notFound("Agent");
      const [row] = await tx
        .insert(RemoteSessions)
        .values({ tenantId: ctx.user.tenantId, agentId: agent.id, technicianId: ctx.user.id })
        .returning();
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "session_requested",
        actor: { type: "user", id: ctx.user.id },
        sessionId: row!.id,
        agentId: agent.id,
        data: { technician: ctx.user.email, agent: agent.name },
      });
      return row!;
    });
    return { session, ...(await issueTicket(ctx, session.id)) };
  }),

  /** A fresh ticket for a session the caller opened and that is still open (reconnects). */
  ticket: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    const [session] = await ctx.db
      .select({ status: RemoteSessions.status, technicianId: RemoteSessions.technicianId })
      .from(RemoteSessions)
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    if (session.technicianId !== ctx.user.id) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "Only the technician who opened this session can join it.",
      });
    }
    if (isTerminalSessionState(session.status)) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `This session has ${session.status.replace("_", " ")}; start a new one.`,
      });
    }
    return issueTicket(ctx, input.id);
  }),

  /** Ends a session that is still open. Technicians end their own; admins any in the tenant. */
  end: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    const [session] = await ctx.db
      .select({ technicianId: RemoteSessions.technicianId, agentId: RemoteSessions.agentId })
      .from(RemoteSessions)
      .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
    if (!session) throw notFound("Session");
    if (ctx.user.role !== "admin" && session.technicianId !== ctx.user.id) {
      throw new TRPCError({
        code: "FORBIDDEN",
        message: "Only the technician who opened this session or an administrator can end it.",
      });
    }
    const reason = ctx.user.id === session.technicianId ? "ended_by_technician" : "ended_by_admin";
    try {
      const ended = await transitionSession(ctx.db, {
        tenantId: ctx.user.tenantId,
        sessionId: input.id,
        transition: "end",
        actor: { type: "user", id: ctx.user.id },
        reason,
      });
      ctx.sessionEnded?.({ sessionId: ended.id, agentId: ended.agentId, reason });
      return ended;
    } catch (error) {
      if (error instanceof IllegalSessionTransition)
        throw new TRPCError({ code: "CONFLICT", message: `${error.message}.` });
      if (error instanceof SessionNotFound) throw notFound("Session");
      throw error;
    }
  }),
});

async function issueTicket(ctx: AuthedContext, sessionId: string) {
  const { ticket, expiresAt } = await signTicket(ctx.ticketKey, {
    sid: sessionId,
    tid: ctx.user.tenantId,
    uid: ctx.user.id,
    role: "technician",
    name: ctx.user.name,
    email: ctx.user.email,
  });
  return { ticket, ticketExpiresAt: expiresAt };
}
