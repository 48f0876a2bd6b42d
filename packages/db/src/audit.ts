/**
 * The audit log's only writer and its verifier. Each tenant has one hash chain over its events:
 * `hash = sha256(prev_hash ‖ canonical JSON of the event)`, `seq` counting from 1 without gaps;
 * its heads are signed from time to time (audit-head-signer.ts) and checked here too.
 * Appends take a transaction-scoped advisory lock on the tenant, so concurrent writers queue
 * instead of forking the chain; the unique (tenant_id, seq) index backs that up.
 */
import { createHash, type KeyObject, randomUUID } from "node:crypto";
import { and, asc, desc, eq, gt, gte, lte, sql } from "drizzle-orm";
import { publicKeyOf, verifyHeadSignature } from "./audit-signing.ts";
import { canonicalJson } from "./canonical-json.ts";
import type { Database, Executor } from "./client.ts";
import { inTransaction } from "./in-transaction.ts";
import {
  type ActorType,
  type AuditHead,
  AuditHeads,
  AuditSigningKeys,
  type SessionEvent,
  SessionEvents,
} from "./schema.ts";

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
 * change (the append then commits or rolls back with it, and a failed append fails it).
 */
export async function appendEvent(executor: Executor, input: NewEvent): Promise<SessionEvent> {
  // Round-trip through JSON so the hashed data is exactly what jsonb will give back.
  const data = JSON.parse(canonicalJson(input.data ?? {})) as Record<string, unknown>;
  return inTransaction(executor, async (tx) => {
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

export type ChainBreakReason =
  | "seq_gap"
  | "prev_hash_mismatch"
  | "hash_mismatch"
  | "head_mismatch"
  | "bad_signature"
  | "unknown_key"
  | "truncated"
  | "unsigned";

/** A signed head as a verification reports it. */
export interface SignedHeadRef {
  seq: number;
  signedAt: Date;
  keyId: string;
}

export type ChainVerification =
  | {
      ok: true;
      checked: number;
      headHash: string;
      /** The newest signed head; null while the chain has none. */
      lastSignedHead: SignedHeadRef | null;
      /** Events after the last signed head, still within the grace period. */
      unsignedTail: number;
    }
  | {
      ok: false;
      /** Events verified before the first problem. */
      checked: number;
      firstBroken: {
        /** The event at `seq` (for `truncated`, the head's id). */
        id: string;
        seq: number;
        reason: ChainBreakReason;
        message: string;
      };
    };

/**
 * How old an event may be before a chain that no signed head covers it is reported `unsigned`:
 * five times the signer's default interval (60 s), so a signer that is a few polls late or is
 * restarting is not taken for tampering. A deployment that signs less often must pass more.
 */
export const DEFAULT_UNSIGNED_GRACE_MS = 5 * 60_000;

export interface VerifyOptions {
  batchSize?: number;
  /** See DEFAULT_UNSIGNED_GRACE_MS. */
  unsignedGraceMs?: number;
  /** Only heads signed by these keys count (fingerprints); by default, every registered key. */
  trustedKeyIds?: readonly string[];
  now?: Date;
}

/**
 * Walks a tenant's chain from the start and reports the first problem: an event whose link does
 * not hold, a signed head that no longer matches the chain (it was rewritten, hashes and all) or
 * whose signature or key is not genuine, a head beyond the chain's end (events were removed), or
 * events older than `unsignedGraceMs` that no signed head covers. A head at seq N covers every
 * event up to N, since N's hash commits to all of them.
 */
export async function verifyChain(
  db: Database,
  tenantId: string,
  {
    batchSize = 1000,
    unsignedGraceMs = DEFAULT_UNSIGNED_GRACE_MS,
    trustedKeyIds,
    now = new Date(),
  }: VerifyOptions = {},
): Promise<ChainVerification> {
  const keys = new Map<string, KeyObject | null>();
  for (const key of await db.select().from(AuditSigningKeys)) {
    keys.set(
      key.id,
      trustedKeyIds && !trustedKeyIds.includes(key.id) ? null : publicKeyOf(key.id, key.publicKey),
    );
  }
  let expectedSeq = 1;
  let prevHash = GENESIS_HASH;
  let checked = 0;
  let lastSignedHead: SignedHeadRef | null = null;
  /** The first event after the last signed head, and the newest such event past the grace period. */
  let firstUnsigned: { id: string; seq: number; createdAt: Date } | null = null;
  let lastOverdueSeq: number | null = null;
  const cutoff = now.getTime() - unsignedGraceMs;
  for (;;) {
    const batch = await db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, tenantId), gt(SessionEvents.seq, expectedSeq - 1)))
      .orderBy(asc(SessionEvents.seq))
      .limit(batchSize);
    const heads = new Map<number, AuditHead>();
    if (batch.length > 0) {
      const rows = await db
        .select()
        .from(AuditHeads)
        .where(
          and(
            eq(AuditHeads.tenantId, tenantId),
            gte(AuditHeads.seq, batch[0]!.seq),
            lte(AuditHeads.seq, batch[batch.length - 1]!.seq),
          ),
        );
      for (const head of rows) heads.set(head.seq, head);
    }
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
      const head = heads.get(event.seq);
      if (head) {
        const signed = `the head signed at ${head.signedAt.toISOString()}`;
        const key = keys.get(head.keyId);
        if (!key) {
          return broken(
            "unknown_key",
            `${signed} for #${head.seq} names key ${head.keyId}, which is not ${
              keys.has(head.keyId) ? "a trusted signing key" : "a registered signing key"
            }`,
          );
        }
        if (!(await verifyHeadSignature(key, { ...head, tenantId }, head.signature))) {
          return broken("bad_signature", `the signature of ${signed} for #${head.seq} is not genuine`);
        }
        if (head.hash !== event.hash) {
          return broken(
            "head_mismatch",
            `the chain at #${head.seq} no longer matches ${signed}: it was rewritten`,
          );
        }
        lastSignedHead = { seq: head.seq, signedAt: head.signedAt, keyId: head.keyId };
        firstUnsigned = null;
        lastOverdueSeq = null;
      } else {
        firstUnsigned ??= { id: event.id, seq: event.seq, createdAt: event.createdAt };
        if (event.createdAt.getTime() <= cutoff) lastOverdueSeq = event.seq;
      }
      prevHash = event.hash;
      expectedSeq += 1;
      checked += 1;
    }
    if (batch.length < batchSize) break;
  }
  const lastSeq = expectedSeq - 1;
  const [beyond] = await db
    .select()
    .from(AuditHeads)
    .where(and(eq(AuditHeads.tenantId, tenantId), gt(AuditHeads.seq, lastSeq)))
    .orderBy(asc(AuditHeads.seq))
    .limit(1);
  if (beyond) {
    return {
      ok: false,
      checked,
      firstBroken: {
        id: beyond.id,
        seq: beyond.seq,
        reason: "truncated",
        message: `a head was signed at ${beyond.signedAt.toISOString()} for #${beyond.seq}, but the chain ends at #${lastSeq}: events were removed`,
      },
    };
  }
  if (firstUnsigned && lastOverdueSeq !== null) {
    const range =
      lastOverdueSeq === firstUnsigned.seq
        ? `event #${firstUnsigned.seq} is`
        : `events #${firstUnsigned.seq}..#${lastOverdueSeq} are`;
    return {
      ok: false,
      checked: firstUnsigned.seq - 1,
      firstBroken: {
        id: firstUnsigned.id,
        seq: firstUnsigned.seq,
        reason: "unsigned",
        message: `${range} covered by no signed head (the oldest written at ${firstUnsigned.createdAt.toISOString()}, more than ${Math.round(unsignedGraceMs / 1000)} s ago): the head signer is not running, or heads were removed`,
      },
    };
  }
  return {
    ok: true,
    checked,
    headHash: prevHash,
    lastSignedHead,
    unsignedTail: lastSeq - (lastSignedHead?.seq ?? 0),
  };
}
