/**
 * The audit log's only writer and its verifier. Each tenant has one hash chain over its events:
 * `hash = sha256(prev_hash ‖ canonical JSON of the event)`, `seq` counting from 1 without gaps.
 * Appends take a transaction-scoped advisory lock on the tenant, so concurrent writers queue
 * instead of forking the chain; the unique (tenant_id, seq) index backs that up.
 */
import { createHash, randomUUID } from "node:crypto";
import { and, asc, desc, eq, gt, sql } from "drizzle-orm";
import { canonicalJson } from "./canonical-json.ts";
import type { Database, Executor } from "./client.ts";
import { type ActorType, type SessionEvent, SessionEvents } from "./schema.ts";

/** `prev_hash` of a tenant's first event. */
export const GENESIS_HASH = "0".repeat(64);

export interface NewEvent {
  tenantId: string;
  type: string;
  actor: { type: ActorType; id?: string | null };
  sessionId?: string | null;
  agentId?: string | null;
  data?: Record<string, unknown>;
}

type HashedFields = Pick<
  SessionEvent,
  | "id"
  | "tenantId"
  | "seq"
  | "type"
  | "sessionId"
  | "agentId"
  | "actorType"
  | "actorId"
  | "data"
  | "createdAt"
>;

/** The exact text that is hashed: every field of the event except the two hashes. */
export function eventHashInput(event: HashedFields): string {
  return canonicalJson({
    v: 1,
    id: event.id,
    tenantId: event.tenantId,
    seq: event.seq,
    type: event.type,
    sessionId: event.sessionId,
    agentId: event.agentId,
    actorType: event.actorType,
    actorId: event.actorId,
    data: event.data,
    createdAt: event.createdAt.toISOString(),
  });
}

export function eventHash(prevHash: string, event: HashedFields): string {
  return createHash("sha256").update(prevHash).update(eventHashInput(event)).digest("hex");
}

/**
 * Appends one event to its tenant's chain. Pass a transaction to make the event part of a larger
 * change (the append then commits or rolls back with it).
 */
export async function appendEvent(executor: Executor, input: NewEvent): Promise<SessionEvent> {
  // Round-trip through JSON so the hashed data is exactly what jsonb will give back.
  const data = JSON.parse(canonicalJson(input.data ?? {})) as Record<string, unknown>;
  return executor.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended(${"audit:" + input.tenantId}, 0))`);
    const [head] = await tx
      .select({ seq: SessionEvents.seq, hash: SessionEvents.hash })
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, input.tenantId))
      .orderBy(desc(SessionEvents.seq))
      .limit(1);
    const prevHash = head?.hash ?? GENESIS_HASH;
    const event: HashedFields = {
      id: randomUUID(),
      tenantId: input.tenantId,
      seq: (head?.seq ?? 0) + 1,
      type: input.type,
      sessionId: input.sessionId ?? null,
      agentId: input.agentId ?? null,
      actorType: input.actor.type,
      actorId: input.actor.id ?? null,
      data,
      createdAt: new Date(),
    };
    const [row] = await tx
      .insert(SessionEvents)
      .values({ ...event, prevHash, hash: eventHash(prevHash, event) })
      .returning();
    return row!;
  });
}

export type ChainBreakReason = "seq_gap" | "prev_hash_mismatch" | "hash_mismatch";

export type ChainVerification =
  | { ok: true; checked: number; headHash: string }
  | {
      ok: false;
      checked: number;
      firstBroken: { id: string; seq: number; reason: ChainBreakReason; message: string };
    };

/** Walks a tenant's chain from the start and reports the first event whose link does not hold. */
export async function verifyChain(
  db: Database,
  tenantId: string,
  { batchSize = 1000 }: { batchSize?: number } = {},
): Promise<ChainVerification> {
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  for (;;) {
    const batch = await db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, tenantId), gt(SessionEvents.seq, expectedSeq - 1)))
      .orderBy(asc(SessionEvents.seq))
      .limit(batchSize);
    for (const event of batch) {
      const broken = (reason: ChainBreakReason, message: string): ChainVerification => ({
        ok: false,
        checked,
        firstBroken: { id: event.id, seq: event.seq, reason, message },
      });
      if (event.seq !== expectedSeq) {
        return broken(
          "seq_gap",
          `expected event #${expectedSeq} but found #${event.seq}: events are missing`,
        );
      }
      if (event.prevHash !== prevHash) {
        return broken("prev_hash_mismatch", `event #${event.seq} does not link to event #${event.seq - 1}`);
      }
      if (eventHash(prevHash, event) !== event.hash) {
        return broken("hash_mismatch", `event #${event.seq} was altered after it was written`);
      }
      prevHash = event.hash;
      expectedSeq += 1;
      checked += 1;
    }
    if (batch.length < batchSize) return { ok: true, checked, headHash: prevHash };
  }
}
