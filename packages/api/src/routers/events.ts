/**
 * The audit timeline: by session, by agent, by tenant (admins); chain verification (hashes and
 * signed heads), the signing key and last signed head, and the export (JSON Lines, verifiable
 * offline; a large one is downloaded from the dashboard's /audit/export instead).
 */
import {
  Agents,
  AuditHeads,
  AuditScopeNotFound,
  AuditSigningKeys,
  type Database,
  openAuditExport,
  RemoteSessions,
  SessionEvents,
  verifyChain,
} from "@rd/db";
import { TRPCError } from "@trpc/server";
import { and, desc, eq, inArray, lt, max } from "drizzle-orm";
import { z } from "zod";
import { cursorInput, id } from "../inputs.ts";
import { adminProcedure, notFound, protectedProcedure, router } from "../trpc.ts";
import { withActorNames } from "./event-actors.ts";

const when = (label: string) =>
  z.coerce.date({ error: `${label} must be a date and time, e.g. 2025-03-07T09:00:00Z` });

/**
 * What an audit export covers: a session, an agent, a desk, or a time range [from, to). Shared with
 * the dashboard's download route, which parses the same fields from its query string.
 */
export const auditExportInput = z.discriminatedUnion(
  "scope",
  [
    z.object({ scope: z.literal("session"), sessionId: id("Session id") }),
    z.object({ scope: z.literal("agent"), agentId: id("Agent id") }),
    z.object({ scope: z.literal("desk"), deskId: id("Desk id") }),
    z
      .object({ scope: z.literal("range"), from: when("From"), to: when("To") })
      .refine((range) => range.from < range.to, { error: "From must be before To", path: ["to"] }),
  ],
  { error: "Scope must be session, agent, desk or range" },
);
export type AuditExportInput = z.infer<typeof auditExportInput>;

/**
 * Largest export returned inline by `events.export`: it is built in memory and sent as one
 * response, which is fine for a session or a day, not for a year.
 */
export const MAX_INLINE_EXPORT_BYTES = 8 * 1024 * 1024;

/** The signing keys known to the installation and the tenant's last signed head. */
async function signingStatus(db: Database, tenantId: string) {
  const [keys, used, [last]] = await Promise.all([
    db.select().from(AuditSigningKeys).orderBy(desc(AuditSigningKeys.createdAt)),
    db
      .select({ keyId: AuditHeads.keyId, lastUsedAt: max(AuditHeads.signedAt) })
      .from(AuditHeads)
      .where(eq(AuditHeads.tenantId, tenantId))
      .groupBy(AuditHeads.keyId),
    db
      .select({
        seq: AuditHeads.seq,
        hash: AuditHeads.hash,
        signedAt: AuditHeads.signedAt,
        keyId: AuditHeads.keyId,
      })
      .from(AuditHeads)
      .where(eq(AuditHeads.tenantId, tenantId))
      .orderBy(desc(AuditHeads.seq))
      .limit(1),
  ]);
  const lastUse = new Map(used.map((u) => [u.keyId, u.lastUsedAt]));
  return {
    /** Fingerprint of the key that signs now: the last head's, else the newest registered. */
    currentKeyId: last?.keyId ?? keys[0]?.id ?? null,
    keys: keys.map((key) => ({
      id: key.id,
      publicKey: key.publicKey,
      registeredAt: key.createdAt,
      /** When it last signed a head of this tenant; null if never. */
      lastUsedAt: lastUse.get(key.id) ?? null,
    })),
    lastSignedHead: last ?? null,
  };
}

/** A page of events, newest first, each with its actor named; `rows` holds one more if there are more. */
async function page<T extends { seq: number; actorType: string; actorId: string | null }>(
  db: Database,
  tenantId: string,
  rows: T[],
  limit: number,
) {
  const items = await withActorNames(db, tenantId, rows.slice(0, limit));
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
      const rows = await ctx.db
        .select()
        .from(SessionEvents)
        .where(and(eq(SessionEvents.tenantId, ctx.user.tenantId), eq(SessionEvents.sessionId, session.id)))
        .orderBy(SessionEvents.seq);
      return withActorNames(ctx.db, ctx.user.tenantId, rows);
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
      return page(ctx.db, ctx.user.tenantId, rows, input.limit);
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
      return page(ctx.db, ctx.user.tenantId, rows, input.limit);
    }),

  verify: adminProcedure.mutation(({ ctx }) => verifyChain(ctx.db, ctx.user.tenantId)),

  /** The signing key fingerprint(s) and the tenant's last signed chain head. */
  signing: adminProcedure.query(({ ctx }) => signingStatus(ctx.db, ctx.user.tenantId)),

  /**
   * An export of modest size as one string of JSON Lines (see @rd/db audit-export.ts); larger ones
   * answer PAYLOAD_TOO_LARGE and are downloaded from /audit/export, which streams.
   */
  export: adminProcedure.input(auditExportInput).query(async ({ ctx, input }) => {
    let exported;
    try {
      exported = await openAuditExport(ctx.db, ctx.user.tenantId, input);
    } catch (error) {
      if (error instanceof AuditScopeNotFound) throw notFound(error.what);
      throw error;
    }
    const lines: string[] = [];
    let bytes = 0;
    for await (const line of exported.lines()) {
      bytes += Buffer.byteLength(line) + 1;
      if (bytes > MAX_INLINE_EXPORT_BYTES) {
        throw new TRPCError({
          code: "PAYLOAD_TOO_LARGE",
          message: `This export is larger than ${MAX_INLINE_EXPORT_BYTES / 1024 / 1024} MiB: download it from the audit page (Export audit) instead.`,
        });
      }
      lines.push(line);
    }
    return { filename: exported.filename, lines: lines.map((line) => `${line}\n`).join("") };
  }),
});
