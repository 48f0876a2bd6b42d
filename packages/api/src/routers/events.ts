/** The audit timeline: by session, by agent, by tenant (admins), and chain verification. */
import { Agents, RemoteSessions, SessionEvents, verifyChain } from "@rd/db";
import { and, desc, eq, inArray, lt } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, id } from "../inputs.ts";
import { adminProcedure, notFound, protectedProcedure, router } from "../trpc.ts";

type Page<T> = { items: T[]; nextCursor: number | null };

function page<T extends { seq: number }>(rows: T[], limit: number): Page<T> {
  const items = rows.slice(0, limit);
  return { items, nextCursor: rows.length > limit ? items[items.length - 1]!.seq : null };
}

export const eventsRouter = router({
  bySession: protectedProcedure
    .input(z.object({ sessionId: id("Session id") }))
    .query(async ({ ctx, input }) => {
      const [session] = await ctx.db
        .select({ id: RemoteSessions.id })
        .from(RemoteSessions)
        .where(and(eq(RemoteSessions.id, input.sessionId), eq(RemoteSessions.tenantId, ctx.user.tenantId)));
      if (!session) throw notFound("Session");
      return ctx.db
        .select()
        .from(SessionEvents)
        .where(and(eq(SessionEvents.tenantId, ctx.user.tenantId), eq(SessionEvents.sessionId, session.id)))
        .orderBy(SessionEvents.seq);
    }),

  byAgent: protectedProcedure
    .input(z.object({ agentId: id("Agent id"), ...cursorInput }))
    .query(async ({ ctx, input }) => {
      const [agent] = await ctx.db
        .select({ id: Agents.id })
        .from(Agents)
        .where(and(eq(Agents.id, input.agentId), eq(Agents.tenantId, ctx.user.tenantId)));
      if (!agent) throw notFound("Agent");
      const rows = await ctx.db
        .select()
        .from(SessionEvents)
        .where(
          and(
            eq(SessionEvents.tenantId, ctx.user.tenantId),
            eq(SessionEvents.agentId, agent.id),
            input.before ? lt(SessionEvents.seq, input.before) : undefined,
          ),
        )
        .orderBy(desc(SessionEvents.seq))
        .limit(input.limit + 1);
      return page(rows, input.limit);
    }),

  byTenant: adminProcedure
    .input(
      z.object({
        ...cursorInput,
        /** Only events of these types (e.g. the security ones). */
        types: z
          .array(
            z
              .string()
              .max(64)
              .regex(/^[a-z_]+$/),
          )
          .min(1)
          .max(32)
          .optional(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const rows = await ctx.db
        .select()
        .from(SessionEvents)
        .where(
          and(
            eq(SessionEvents.tenantId, ctx.user.tenantId),
            input.types ? inArray(SessionEvents.type, input.types) : undefined,
            input.before ? lt(SessionEvents.seq, input.before) : undefined,
          ),
        )
        .orderBy(desc(SessionEvents.seq))
        .limit(input.limit + 1);
      return page(rows, input.limit);
    }),

  verify: adminProcedure.mutation(({ ctx }) => verifyChain(ctx.db, ctx.user.tenantId)),
});
