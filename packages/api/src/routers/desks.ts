/**
 * Interview desks of the caller's tenant (design flow 5): create one for a candidate from a template,
 * list, inspect with its links and audit trail, extend, terminate; revoke or replace its share link.
 * Interviewers are the tenant's technicians and admins. Every change goes through the desk state table
 * (packages/db desks.ts) or writes its own audit event, with its reason; desk events carry
 * `data.deskId`, which is how byId finds them.
 */
import {
  Agents,
  type Desk,
  DeskExtendRefused,
  deskEvent,
  DeskLinks,
  DeskNotFound,
  Desks,
  type Executor,
  extendDesk,
  IllegalDeskTransition,
  JoinRefused,
  joinSession,
  lockDesk,
  RemoteSessions,
  revokeDeskLinkParticipants,
  SessionEvents,
  transitionDesk,
  Users,
} from "@rd/db";
import {
  applyDeskTemplateOverrides,
  builtInDeskTemplate,
  DEFAULT_DESK_TEMPLATE,
  DESK_LIMITS,
  DESK_STATES,
  deskTemplateOverrides,
  type DeskTemplate,
  DeskTemplateError,
  isTerminalDeskState,
  isTerminalSessionState,
  listBuiltInDeskTemplates,
} from "@rd/protocol";
import { TRPCError } from "@trpc/server";
import { and, asc, count, desc, eq, ilike, inArray, isNull, or, sql } from "drizzle-orm";
import { z } from "zod";
import { id, pageInput, text } from "../inputs.ts";
import { deskAgentName } from "../desk-host/desk-agent.ts";
import { deskLinkView, issueDeskLink } from "../services/desk-links.ts";
import { issueTicket } from "./sessions.ts";
import { withActorNames } from "./event-actors.ts";
import { type AuthedContext, notFound, protectedProcedure, router } from "../trpc.ts";

/** What the dashboard sees of a desk: everything but the provider's handle. */
const deskColumns = {
  id: Desks.id,
  templateName: Desks.templateName,
  template: Desks.template,
  candidateLabel: Desks.candidateLabel,
  state: Desks.state,
  stateReason: Desks.stateReason,
  createdBy: Desks.createdBy,
  createdByName: Users.name,
  expiresAt: Desks.expiresAt,
  createdAt: Desks.createdAt,
  endedAt: Desks.endedAt,
  sessionId: Desks.sessionId,
};

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);

const templateNames = () => listBuiltInDeskTemplates().map((t) => t.name);

const ttlMinutes = z
  .number({ error: "Time to live must be a number of minutes" })
  .int({ error: "Time to live must be a whole number of minutes" })
  .min(DESK_LIMITS.minLifetimeMinutes, {
    error: `Time to live must be at least ${DESK_LIMITS.minLifetimeMinutes} minutes`,
  })
  .max(DESK_LIMITS.maxLifetimeMinutes, {
    error: `Time to live must be at most ${DESK_LIMITS.maxLifetimeMinutes} minutes`,
  });

/** The desk of the caller's tenant, as the dashboard sees it; NOT_FOUND otherwise. */
async function deskOf(ctx: AuthedContext, deskId: string) {
  const [desk] = await ctx.db
    .select(deskColumns)
    .from(Desks)
    .leftJoin(Users, eq(Users.id, Desks.createdBy))
    .where(and(eq(Desks.id, deskId), eq(Desks.tenantId, ctx.user.tenantId), eq(Desks.pooled, false)));
  if (!desk) throw notFound("Desk");
  return desk;
}

/** The link `linkId` of the caller's tenant (not locked: the desk is locked first); NOT_FOUND otherwise. */
async function linkOf(ctx: AuthedContext, linkId: string) {
  const [link] = await ctx.db
    .select({ id: DeskLinks.id, deskId: DeskLinks.deskId })
    .from(DeskLinks)
    .where(and(eq(DeskLinks.id, linkId), eq(DeskLinks.tenantId, ctx.user.tenantId)));
  if (!link) throw notFound("Link");
  return link;
}

/** The database layer's typed refusals as this boundary's errors. */
async function refusals<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof DeskNotFound) throw notFound("Desk");
    if (error instanceof IllegalDeskTransition)
      throw new TRPCError({ code: "CONFLICT", message: `${error.message}.` });
    if (error instanceof DeskExtendRefused)
      throw new TRPCError({ code: "BAD_REQUEST", message: error.message });
    throw error;
  }
}

const actorOf = (ctx: AuthedContext) => ({ type: "user" as const, id: ctx.user.id });

/** What a desk's sandbox is made of: a warm desk serves a request only if these match. */
// Field by field: a template read back from jsonb has its object keys in another order.
const sandboxOf = (t: DeskTemplate) =>
  JSON.stringify([
    t.resolution,
    t.programs,
    t.limits.memoryMiB,
    t.limits.cpus,
    t.limits.maxProcesses,
    t.egress,
  ]);

/**
 * Takes a desk of the warm pool (started ahead, ready, nobody's) for this request when one with the
 * same sandbox waits: the candidate then finds it running. Its lifetime starts now; its agent takes
 * the desk's name and clipboard policy. Undefined when none waits (the desk host starts one cold).
 */
async function adoptWarmDesk(
  tx: Executor,
  values: {
    tenantId: string;
    templateName: string;
    template: DeskTemplate;
    candidateLabel: string;
    createdBy: string;
    expiresAt: Date;
  },
): Promise<Desk | undefined> {
  // SKIP LOCKED: two interviewers creating desks at once take two different warm desks.
  const waiting = await tx
    .select()
    .from(Desks)
    .where(
      and(
        eq(Desks.tenantId, values.tenantId),
        eq(Desks.templateName, values.templateName),
        eq(Desks.pooled, true),
        eq(Desks.state, "ready"),
      ),
    )
    .limit(4)
    .for("update", { skipLocked: true });
  const warm = waiting.find((d) => sandboxOf(d.template) === sandboxOf(values.template));
  if (!warm) return undefined;
  const [adopted] = await tx
    .update(Desks)
    .set({ ...values, pooled: false, createdAt: new Date() })
    .where(eq(Desks.id, warm.id))
    .returning();
  await tx
    .update(Agents)
    .set({
      name: deskAgentName(values.candidateLabel),
      clipboardPolicy: values.template.clipboard,
      recordingPolicy: values.template.recording ?? "choice",
    })
    .where(eq(Agents.deskId, warm.id));
  return adopted;
}

export const desksRouter = router({
  /** The built-in templates a desk may start from. */
  templates: protectedProcedure.query(() => listBuiltInDeskTemplates()),

  /**
   * Creates a desk in `pending` from a built-in template with the given overrides, and its share
   * link. The link's token (and its PIN, when `pin` is set) are in this answer only.
   */
  create: protectedProcedure
    .input(
      z.object({
        template: z
          .string({ error: "Template must be a template name" })
          .default(DEFAULT_DESK_TEMPLATE)
          .superRefine((name, ctx) => {
            if (!builtInDeskTemplate(name)) {
              ctx.addIssue({
                code: "custom",
                message: `There is no desk template "${name}"; choose one of: ${templateNames().join(", ")}`,
              });
            }
          }),
        overrides: deskTemplateOverrides.optional(),
        candidateLabel: text("Candidate label", 100),
        /** The desk's time to live; the template's when absent. */
        ttlMinutes: ttlMinutes.optional(),
        /** Protect the link with a 6-digit PIN, returned once. */
        pin: z.boolean({ error: "PIN must be true or false" }).default(false),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      let template;
      try {
        template = applyDeskTemplateOverrides(builtInDeskTemplate(input.template)!, {
          ...input.overrides,
          ...(input.ttlMinutes !== undefined ? { ttlMinutes: input.ttlMinutes } : {}),
        });
      } catch (error) {
        if (error instanceof DeskTemplateError)
          throw new TRPCError({ code: "BAD_REQUEST", message: error.message });
        throw error;
      }
      const expiresAt = new Date(Date.now() + template.ttlMinutes * 60_000);
      const { deskId, link, token, pin } = await ctx.db.transaction(async (tx) => {
        const values = {
          tenantId: ctx.user.tenantId,
          templateName: input.template,
          template,
          candidateLabel: input.candidateLabel,
          createdBy: ctx.user.id,
          expiresAt,
        };
        const warm = await adoptWarmDesk(tx, values);
        const [desk] = warm ? [warm] : await tx.insert(Desks).values(values).returning();
        const issued = await issueDeskLink(tx, desk!, { pin: input.pin });
        // The candidate's label stays out of the append-only chain (it names a person): the id ties them.
        await deskEvent(tx, desk!, "desk_created", actorOf(ctx), {
          template: input.template,
          ttlMinutes: template.ttlMinutes,
          expiresAt: expiresAt.toISOString(),
          linkId: issued.link.id,
          pinProtected: input.pin,
          fromWarmPool: !!warm,
          reason: `created by ${ctx.user.email}`,
        });
        return { deskId: desk!.id, ...issued };
      });
      return { desk: await deskOf(ctx, deskId), link, token, pin };
    }),

  list: protectedProcedure
    .input(
      z.object({
        state: z.enum(DESK_STATES).optional(),
        search: z.string().trim().max(100, { error: "Search must be at most 100 characters" }).optional(),
        ...pageInput,
      }),
    )
    .query(async ({ ctx, input }) => {
      const where = and(
        eq(Desks.tenantId, ctx.user.tenantId),
        eq(Desks.pooled, false),
        input.state ? eq(Desks.state, input.state) : undefined,
        input.search ? ilike(Desks.candidateLabel, `%${escapeLike(input.search)}%`) : undefined,
      );
      const [items, [total], [warm]] = await Promise.all([
        ctx.db
          .select(deskColumns)
          .from(Desks)
          .leftJoin(Users, eq(Users.id, Desks.createdBy))
          .where(where)
          .orderBy(desc(Desks.createdAt), desc(Desks.id))
          .limit(input.limit)
          .offset(input.offset),
        ctx.db.select({ n: count() }).from(Desks).where(where),
        ctx.db
          .select({ n: count() })
          .from(Desks)
          .where(
            and(eq(Desks.tenantId, ctx.user.tenantId), eq(Desks.pooled, true), eq(Desks.state, "ready")),
          ),
      ]);
      /** `warm`: desks of the warm pool running and waiting, so a new desk starts in about a second. */
      return { items, total: total?.n ?? 0, warm: warm?.n ?? 0 };
    }),

  /** One desk with its links (newest first, never their hashes) and its audit events (oldest first). */
  byId: protectedProcedure.input(z.object({ id: id("Desk id") })).query(async ({ ctx, input }) => {
    const desk = await deskOf(ctx, input.id);
    const [links, events, [live]] = await Promise.all([
      ctx.db
        .select()
        .from(DeskLinks)
        .where(and(eq(DeskLinks.deskId, desk.id), eq(DeskLinks.tenantId, ctx.user.tenantId)))
        .orderBy(desc(DeskLinks.createdAt)),
      ctx.db
        .select()
        .from(SessionEvents)
        .where(
          and(
            eq(SessionEvents.tenantId, ctx.user.tenantId),
            // The desk's own events, and those of the sessions it was shown in (who watched, who
            // had control, what crossed the clipboard).
            or(
              sql`${SessionEvents.data}->>'deskId' = ${desk.id}`,
              inArray(
                SessionEvents.sessionId,
                ctx.db
                  .select({ id: RemoteSessions.id })
                  .from(RemoteSessions)
                  .where(
                    and(eq(RemoteSessions.deskId, desk.id), eq(RemoteSessions.tenantId, ctx.user.tenantId)),
                  ),
              ),
            ),
          ),
        )
        .orderBy(asc(SessionEvents.seq)),
      desk.sessionId
        ? ctx.db
            .select({ status: RemoteSessions.status })
            .from(RemoteSessions)
            .where(eq(RemoteSessions.id, desk.sessionId))
        : Promise.resolve([]),
    ]);
    /** The session the candidate is in now, which Watch joins; null when nobody is on the desk. */
    const liveSessionId = live && !isTerminalSessionState(live.status) ? desk.sessionId : null;
    return {
      ...desk,
      links: links.map(deskLinkView),
      events: await withActorNames(ctx.db, ctx.user.tenantId, events),
      liveSessionId,
    };
  }),

  /** More time for a live desk, up to DESK_LIMITS.maxLifetimeMinutes from its creation. */
  extend: protectedProcedure
    .input(
      z.object({
        id: id("Desk id"),
        minutes: z
          .number({ error: "Minutes must be a number" })
          .int({ error: "Minutes must be a whole number" })
          .min(1, { error: "Minutes must be at least 1" })
          .max(DESK_LIMITS.maxLifetimeMinutes, {
            error: `Minutes must be at most ${DESK_LIMITS.maxLifetimeMinutes}`,
          }),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await refusals(() =>
        extendDesk(ctx.db, {
          tenantId: ctx.user.tenantId,
          deskId: input.id,
          minutes: input.minutes,
          actor: actorOf(ctx),
          reason: `extended by ${ctx.user.email}`,
        }),
      );
      return deskOf(ctx, input.id);
    }),

  /** Ends a live desk now; its provider stops it. */
  terminate: protectedProcedure.input(z.object({ id: id("Desk id") })).mutation(async ({ ctx, input }) => {
    await refusals(() =>
      transitionDesk(ctx.db, {
        tenantId: ctx.user.tenantId,
        deskId: input.id,
        transition: "terminate",
        actor: actorOf(ctx),
        reason: `terminated by ${ctx.user.email}`,
      }),
    );
    return deskOf(ctx, input.id);
  }),

  /**
   * Joins the session the candidate is in as an observer (watching; control can be taken from the
   * live page) and returns its ticket. CONFLICT when nobody is on the desk yet.
   */
  watch: protectedProcedure.input(z.object({ id: id("Desk id") })).mutation(async ({ ctx, input }) => {
    const desk = await deskOf(ctx, input.id);
    if (isTerminalDeskState(desk.state)) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `This desk is ${desk.state}: there is nothing to watch.`,
      });
    }
    const notYet = () =>
      new TRPCError({
        code: "CONFLICT",
        message: "Nobody is on this desk yet: Watch works once the candidate has opened the link.",
      });
    if (!desk.sessionId) throw notYet();
    try {
      const participant = await joinSession(ctx.db, {
        tenantId: ctx.user.tenantId,
        sessionId: desk.sessionId,
        userId: ctx.user.id,
        actor: actorOf(ctx),
        ...(ctx.maxObservers !== undefined ? { maxObservers: ctx.maxObservers } : {}),
      });
      return {
        sessionId: desk.sessionId,
        participantId: participant.id,
        ...(await issueTicket(ctx, desk.sessionId, participant.id)),
      };
    } catch (error) {
      if (error instanceof JoinRefused) throw notYet();
      throw error;
    }
  }),

  links: router({
    /** Kills a link at once: the candidate's page stops working. */
    revoke: protectedProcedure.input(z.object({ id: id("Link id") })).mutation(async ({ ctx, input }) => {
      const { deskId } = await linkOf(ctx, input.id);
      const link = await refusals(() =>
        ctx.db.transaction(async (tx) => {
          const desk = await lockDesk(tx, ctx.user.tenantId, deskId);
          const [revoked] = await tx
            .update(DeskLinks)
            .set({ revokedAt: new Date() })
            .where(
              and(
                eq(DeskLinks.id, input.id),
                eq(DeskLinks.tenantId, ctx.user.tenantId),
                isNull(DeskLinks.revokedAt),
              ),
            )
            .returning();
          if (!revoked) throw new TRPCError({ code: "CONFLICT", message: "This link was revoked already." });
          await deskEvent(tx, desk, "desk_link_revoked", actorOf(ctx), {
            linkId: revoked.id,
            reason: `revoked by ${ctx.user.email}`,
          });
          // The candidate who came through it is out now: their viewer closes when this commits.
          await revokeDeskLinkParticipants(tx, { deskLinkIds: [revoked.id], actor: actorOf(ctx) });
          return revoked;
        }),
      );
      return deskLinkView(link);
    }),

    /**
     * Replaces the desk's link with a new token; the old one (and any other live link of the desk)
     * dies at once. The new link has a PIN when `pin` says so, or else when the old one had one — a
     * new PIN, since a leaked link may have taken its PIN with it. Token and PIN are in this answer only.
     */
    rotate: protectedProcedure
      .input(
        z.object({ id: id("Link id"), pin: z.boolean({ error: "PIN must be true or false" }).optional() }),
      )
      .mutation(async ({ ctx, input }) => {
        const { deskId } = await linkOf(ctx, input.id);
        return refusals(() =>
          ctx.db.transaction(async (tx) => {
            const desk = await lockDesk(tx, ctx.user.tenantId, deskId);
            if (isTerminalDeskState(desk.state)) {
              throw new TRPCError({
                code: "CONFLICT",
                message: `This desk is ${desk.state}: it has no use for a new link. Create a new desk instead.`,
              });
            }
            const [old] = await tx
              .select({ pinHash: DeskLinks.pinHash })
              .from(DeskLinks)
              .where(and(eq(DeskLinks.id, input.id), eq(DeskLinks.tenantId, ctx.user.tenantId)));
            const replaced = await tx
              .update(DeskLinks)
              .set({ revokedAt: new Date() })
              .where(
                and(
                  eq(DeskLinks.deskId, desk.id),
                  eq(DeskLinks.tenantId, ctx.user.tenantId),
                  isNull(DeskLinks.revokedAt),
                ),
              )
              .returning({ id: DeskLinks.id });
            await revokeDeskLinkParticipants(tx, {
              deskLinkIds: replaced.map((r) => r.id),
              actor: actorOf(ctx),
            });
            const issued = await issueDeskLink(tx, desk, { pin: input.pin ?? old!.pinHash !== null });
            await deskEvent(tx, desk, "desk_link_rotated", actorOf(ctx), {
              linkId: issued.link.id,
              replaced: replaced.map((r) => r.id),
              pinProtected: issued.pin !== null,
              reason: `replaced by ${ctx.user.email}`,
            });
            return issued;
          }),
        );
      }),
  }),
});
