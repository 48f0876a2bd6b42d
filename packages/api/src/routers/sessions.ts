/** Remote sessions of the caller's tenant: list, inspect with events, request, end. */
import { Agents, appendEvent, RemoteSessions, SessionEvents, Users } from "@rd/db";
import { IllegalSessionTransition, nextSessionState, SESSION_STATES } from "@rd/protocol";
import { TRPCError } from "@trpc/server";
import { and, asc, count, desc, eq } from "drizzle-orm";
import { z } from "zod";
import { id, pageInput } from "../inputs.ts";
import { notFound, protectedProcedure, router } from "../trpc.ts";

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

  /** Records a technician's request to connect. Signaling (ticket, consent) joins in a later step. */
  create: protectedProcedure.input(z.object({ agentId: id("Agent id") })).mutation(async ({ ctx, input }) => {
    return ctx.db.transaction(async (tx) => {
      const [agent] = await tx
        .select({ id: Agents.id, name: Agents.name, removedAt: Agents.removedAt })
        .from(Agents)
        .where(and(eq(Agents.id, input.agentId), eq(Agents.tenantId, ctx.user.tenantId)));
      if (!agent || agent.removedAt) throw notFound("Agent");
      const [session] = await tx
        .insert(RemoteSessions)
        .values({ tenantId: ctx.user.tenantId, agentId: agent.id, technicianId: ctx.user.id })
        .returning();
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "session_requested",
        actor: { type: "user", id: ctx.user.id },
        sessionId: session!.id,
        agentId: agent.id,
        data: { technician: ctx.user.email, agent: agent.name },
      });
      return session!;
    });
  }),

  /** Ends a session that is still open. Technicians end their own; admins any in the tenant. */
  end: protectedProcedure.input(z.object({ id: id("Session id") })).mutation(async ({ ctx, input }) => {
    return ctx.db.transaction(async (tx) => {
      const [session] = await tx
        .select()
        .from(RemoteSessions)
        .where(and(eq(RemoteSessions.id, input.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)))
        .for("update");
      if (!session) throw notFound("Session");
      if (ctx.user.role !== "admin" && session.technicianId !== ctx.user.id) {
        throw new TRPCError({
          code: "FORBIDDEN",
          message: "Only the technician who opened this session or an administrator can end it.",
        });
      }
      let status;
      try {
        status = nextSessionState(session.status, "end");
      } catch (error) {
        if (error instanceof IllegalSessionTransition)
          throw new TRPCError({ code: "CONFLICT", message: `${error.message}.` });
        throw error;
      }
      const endedAt = new Date();
      const durationMs = session.startedAt ? endedAt.getTime() - session.startedAt.getTime() : null;
      const endReason = ctx.user.id === session.technicianId ? "ended_by_technician" : "ended_by_admin";
      const [updated] = await tx
        .update(RemoteSessions)
        .set({ status, endedAt, durationMs, endReason })
        .where(eq(RemoteSessions.id, session.id))
        .returning();
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "session_ended",
        actor: { type: "user", id: ctx.user.id },
        sessionId: session.id,
        agentId: session.agentId,
        data: { reason: endReason, from: session.status, durationMs },
      });
      return updated!;
    });
  }),
});
