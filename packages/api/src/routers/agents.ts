/** Agents (enrolled devices) of the caller's tenant: list, inspect, rename, remove, enroll more. */
import { Agents, appendEvent, notifyControl, RemoteSessions, stopQuietly, Users } from "@rd/db";
import { CONSENT_POLICIES, RECORDING_POLICIES, TERMINAL_SESSION_STATES } from "@rd/protocol";
import { and, asc, count, desc, eq, ilike, isNull, notInArray, or } from "drizzle-orm";
import { z } from "zod";
import { id, pageInput, text } from "../inputs.ts";
import { createEnrollmentCode } from "../services/enrollment.ts";
import { adminProcedure, notFound, protectedProcedure, router } from "../trpc.ts";

/** What the dashboard may see of an agent: everything but its credential hash. */
const agentColumns = {
  id: Agents.id,
  name: Agents.name,
  hostname: Agents.hostname,
  os: Agents.os,
  version: Agents.version,
  status: Agents.status,
  lastSeenAt: Agents.lastSeenAt,
  metadata: Agents.metadata,
  consentPolicy: Agents.consentPolicy,
  recordingPolicy: Agents.recordingPolicy,
  enrolledAt: Agents.enrolledAt,
};

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * The agent `id` of `tenantId`, unless it was removed or runs an interview desk (the desk host owns
 * those; interviewers reach them through the desk): the only agents the dashboard may touch.
 */
const liveAgent = (tenantId: string, id: string) =>
  and(eq(Agents.id, id), eq(Agents.tenantId, tenantId), isNull(Agents.removedAt), isNull(Agents.deskId));

export const agentsRouter = router({
  list: protectedProcedure
    .input(
      z.object({
        status: z.enum(["online", "offline"]).optional(),
        search: z.string().trim().max(100, { error: "Search must be at most 100 characters" }).optional(),
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      const pattern = input.search ? `%${escapeLike(input.search)}%` : undefined;
      const where = and(
        eq(Agents.tenantId, ctx.user.tenantId),
        isNull(Agents.removedAt),
        isNull(Agents.deskId),
        input.status ? eq(Agents.status, input.status) : undefined,
        pattern ? or(ilike(Agents.name, pattern), ilike(Agents.hostname, pattern)) : undefined,
      );
      const [items, [total]] = await Promise.all([
        ctx.db
          .select(agentColumns)
          .from(Agents)
          .where(where)
          // Online first (enums sort in declaration order), then by name: "who can I connect to".
          .orderBy(asc(Agents.status), asc(Agents.name))
          .limit(input.limit)
          .offset(input.offset),
        ctx.db.select({ n: count() }).from(Agents).where(where),
      ]);
      return { items, total: total?.n ?? 0 };
    }),

  byId: protectedProcedure.input(z.object({ id: id("Agent id") })).query(async ({ ctx, input }) => {
    const [agent] = await ctx.db
      .select(agentColumns)
      .from(Agents)
      .where(liveAgent(ctx.user.tenantId, input.id));
    if (!agent) throw notFound("Agent");
    const recentSessions = await ctx.db
      .select({
        id: RemoteSessions.id,
        status: RemoteSessions.status,
        requestedAt: RemoteSessions.requestedAt,
        endedAt: RemoteSessions.endedAt,
        durationMs: RemoteSessions.durationMs,
        technicianName: Users.name,
      })
      .from(RemoteSessions)
      .innerJoin(Users, eq(Users.id, RemoteSessions.technicianId))
      .where(and(eq(RemoteSessions.agentId, agent.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)))
      .orderBy(desc(RemoteSessions.requestedAt))
      .limit(10);
    return { ...agent, recentSessions };
  }),

  rename: adminProcedure
    .input(z.object({ id: id("Agent id"), name: text("Name", 100) }))
    .mutation(async ({ ctx, input }) => {
      return ctx.db.transaction(async (tx) => {
        const [before] = await tx
          .select({ name: Agents.name })
          .from(Agents)
          .where(liveAgent(ctx.user.tenantId, input.id));
        if (!before) throw notFound("Agent");
        const [agent] = await tx
          .update(Agents)
          .set({ name: input.name })
          .where(eq(Agents.id, input.id))
          .returning(agentColumns);
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "agent_renamed",
          actor: { type: "user", id: ctx.user.id },
          agentId: input.id,
          data: { from: before.name, to: input.name },
        });
        return agent!;
      });
    }),

  /**
   * Sets how the agent treats session requests (prompt, notify, unattended). The agent applies the
   * policy that `session/request` carries, so a change holds from the next session on.
   */
  setConsentPolicy: adminProcedure
    .input(z.object({ id: id("Agent id"), policy: z.enum(CONSENT_POLICIES) }))
    .mutation(async ({ ctx, input }) => {
      return ctx.db.transaction(async (tx) => {
        const [before] = await tx
          .select({ policy: Agents.consentPolicy })
          .from(Agents)
          .where(liveAgent(ctx.user.tenantId, input.id));
        if (!before) throw notFound("Agent");
        const [agent] = await tx
          .update(Agents)
          .set({ consentPolicy: input.policy })
          .where(eq(Agents.id, input.id))
          .returning(agentColumns);
        // Setting the policy it already has changes nothing, so the audit trail records nothing.
        if (before.policy !== input.policy) {
          await appendEvent(tx, {
            tenantId: ctx.user.tenantId,
            type: "agent_consent_policy_changed",
            actor: { type: "user", id: ctx.user.id },
            agentId: input.id,
            data: { from: before.policy, to: input.policy },
          });
        }
        return agent!;
      });
    }),

  /**
   * Sets whether the agent's sessions are recorded (never, always, technician's choice); it holds
   * from the next session on, and the agent itself refuses a recorder on "never".
   */
  setRecordingPolicy: adminProcedure
    .input(z.object({ id: id("Agent id"), policy: z.enum(RECORDING_POLICIES) }))
    .mutation(async ({ ctx, input }) => {
      return ctx.db.transaction(async (tx) => {
        const [before] = await tx
          .select({ policy: Agents.recordingPolicy })
          .from(Agents)
          .where(liveAgent(ctx.user.tenantId, input.id));
        if (!before) throw notFound("Agent");
        const [agent] = await tx
          .update(Agents)
          .set({ recordingPolicy: input.policy })
          .where(eq(Agents.id, input.id))
          .returning(agentColumns);
        if (before.policy !== input.policy) {
          await appendEvent(tx, {
            tenantId: ctx.user.tenantId,
            type: "agent_recording_policy_changed",
            actor: { type: "user", id: ctx.user.id },
            agentId: input.id,
            data: { from: before.policy, to: input.policy },
          });
        }
        return agent!;
      });
    }),

  /**
   * Removal is soft: the agent's credential stops working, its history and audit trail stay. Its
   * open sessions end through the state machine, and every worker hears at once (the control feed):
   * the agent's connection closes and its cached credential is forgotten.
   */
  remove: adminProcedure.input(z.object({ id: id("Agent id") })).mutation(async ({ ctx, input }) => {
    return ctx.db.transaction(async (tx) => {
      const [agent] = await tx
        .update(Agents)
        .set({ removedAt: new Date(), status: "offline", credentialHash: "revoked" })
        .where(liveAgent(ctx.user.tenantId, input.id))
        .returning({ id: Agents.id, name: Agents.name });
      if (!agent) throw notFound("Agent");
      const open = await tx
        .select({ id: RemoteSessions.id })
        .from(RemoteSessions)
        .where(
          and(
            eq(RemoteSessions.agentId, agent.id),
            notInArray(RemoteSessions.status, [...TERMINAL_SESSION_STATES]),
          ),
        );
      for (const session of open) {
        await stopQuietly(tx, ctx.user.tenantId, session.id, "agent_removed", {
          type: "user",
          id: ctx.user.id,
        });
      }
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "agent_removed",
        actor: { type: "user", id: ctx.user.id },
        agentId: agent.id,
        data: { name: agent.name, endedSessions: open.length },
      });
      await notifyControl(tx, { kind: "agent-revoked", agentId: agent.id });
      return { id: agent.id };
    });
  }),

  createEnrollmentCode: adminProcedure
    .input(
      z.object({
        label: z.string().trim().max(100, { error: "Label must be at most 100 characters" }).optional(),
        // Default one hour: long enough to walk to the machine, short enough not to linger.
        expiresInMinutes: z
          .number()
          .int()
          .min(5)
          .max(7 * 24 * 60)
          .default(60),
      }),
    )
    .mutation(({ ctx, input }) =>
      createEnrollmentCode(ctx.db, {
        tenantId: ctx.user.tenantId,
        createdBy: ctx.user.id,
        label: input.label || undefined,
        expiresInMinutes: input.expiresInMinutes,
      }),
    ),
});
