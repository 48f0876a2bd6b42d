/**
 * Audit export as JSON Lines (format `rd-audit-export` v1), verifiable offline with nothing but the
 * file (audit-offline-verify.ts). A scope (a session, an agent, a desk, a time range) selects the
 * events shown in full; the file still carries the whole stretch of the chain from the first
 * in-scope event to the first signed head at or after the last one, the other events as bare links
 * (seq and hashes, content withheld), so the in-scope events are bound to a signed head.
 *
 *   {"kind":"header","format":"rd-audit-export","v":1,"tenantId":…,"scope":…,"exportedAt":…,"publicKeys":[{"id":…,"publicKey":…}]}
 *   {"kind":"event","id":…,"seq":…, …every hashed field…, "prevHash":…,"hash":…}
 *   {"kind":"link","seq":…,"prevHash":…,"hash":…}
 *   {"kind":"head","seq":…,"hash":…,"keyId":…,"signature":…,"signedAt":…}   (right after the event it signs)
 *
 * Lines are produced by an async generator, a batch of events at a time, so an export of any size
 * streams without being held in memory.
 */
import { and, asc, eq, gt, gte, inArray, lt, lte, max, min, or, type SQL, sql } from "drizzle-orm";
import type { Database } from "./client.ts";
import { Agents, AuditHeads, AuditSigningKeys, Desks, RemoteSessions, SessionEvents } from "./schema.ts";

export const EXPORT_FORMAT = "rd-audit-export";

/** What an export shows in full. A range is [from, to) by event time. */
export type AuditExportScope =
  | { scope: "session"; sessionId: string }
  | { scope: "agent"; agentId: string }
  | { scope: "desk"; deskId: string }
  | { scope: "range"; from: Date; to: Date };

/** The scope's session, agent or desk is not the tenant's (or does not exist). */
export class AuditScopeNotFound extends Error {
  readonly what: "Session" | "Agent" | "Desk";
  constructor(what: "Session" | "Agent" | "Desk") {
    super(`${what} was not found. It may have been removed.`);
    this.name = "AuditScopeNotFound";
    this.what = what;
  }
}

export interface AuditExport {
  /** A file name for the download, e.g. `audit-session-1a2b3c4d-20250101T120000Z.jsonl`. */
  filename: string;
  /** The export's lines, header first, each without its newline. */
  lines(): AsyncGenerator<string>;
}

/** Events read per query: a few hundred kilobytes of rows. */
const BATCH_SIZE = 500;

/** The scope as written in the header (dates as ISO strings). */
function scopeJson(scope: AuditExportScope) {
  return scope.scope === "range"
    ? { scope: "range", from: scope.from.toISOString(), to: scope.to.toISOString() }
    : scope;
}

/** The events a scope shows in full, as a condition on session_events. */
async function scopeCondition(db: Database, tenantId: string, scope: AuditExportScope): Promise<SQL> {
  switch (scope.scope) {
    case "session": {
      const [row] = await db
        .select({ id: RemoteSessions.id })
        .from(RemoteSessions)
        .where(and(eq(RemoteSessions.id, scope.sessionId), eq(RemoteSessions.tenantId, tenantId)));
      if (!row) throw new AuditScopeNotFound("Session");
      return eq(SessionEvents.sessionId, row.id);
    }
    case "agent": {
      const [row] = await db
        .select({ id: Agents.id })
        .from(Agents)
        .where(and(eq(Agents.id, scope.agentId), eq(Agents.tenantId, tenantId)));
      if (!row) throw new AuditScopeNotFound("Agent");
      return eq(SessionEvents.agentId, row.id);
    }
    case "desk": {
      const [row] = await db
        .select({ id: Desks.id })
        .from(Desks)
        .where(and(eq(Desks.id, scope.deskId), eq(Desks.tenantId, tenantId)));
      if (!row) throw new AuditScopeNotFound("Desk");
      // As the desk page shows it: the desk's own events (data.deskId, desks.ts deskEvent) and
      // those of the sessions it was shown in.
      return or(
        sql`${SessionEvents.data}->>'deskId' = ${row.id}`,
        inArray(
          SessionEvents.sessionId,
          db
            .select({ id: RemoteSessions.id })
            .from(RemoteSessions)
            .where(and(eq(RemoteSessions.deskId, row.id), eq(RemoteSessions.tenantId, tenantId))),
        ),
      )!;
    }
    case "range":
      return and(gte(SessionEvents.createdAt, scope.from), lt(SessionEvents.createdAt, scope.to))!;
  }
}

function filenameOf(scope: AuditExportScope, exportedAt: Date): string {
  const stamp = (d: Date) =>
    d
      .toISOString()
      .replace(/\.\d+Z$/, "Z")
      .replace(/[-:]/g, "");
  const what =
    scope.scope === "range"
      ? `range-${stamp(scope.from)}-${stamp(scope.to)}`
      : `${scope.scope}-${(scope.scope === "session" ? scope.sessionId : scope.scope === "agent" ? scope.agentId : scope.deskId).slice(0, 8)}`;
  return `audit-${what}-${stamp(exportedAt)}.jsonl`;
}

/**
 * Prepares the export of `scope` from `tenantId`'s chain: checks that the scope's session, agent or
 * desk is the tenant's (AuditScopeNotFound otherwise) before a line is produced, so a caller can
 * still answer with an error.
 */
export async function openAuditExport(
  db: Database,
  tenantId: string,
  scope: AuditExportScope,
  { now = new Date(), batchSize = BATCH_SIZE }: { now?: Date; batchSize?: number } = {},
): Promise<AuditExport> {
  const inScope = await scopeCondition(db, tenantId, scope);
  return {
    filename: filenameOf(scope, now),
    lines: () => exportLines(db, tenantId, scope, inScope, now, batchSize),
  };
}

async function* exportLines(
  db: Database,
  tenantId: string,
  scope: AuditExportScope,
  inScope: SQL,
  exportedAt: Date,
  batchSize: number,
): AsyncGenerator<string> {
  const ofTenant = eq(SessionEvents.tenantId, tenantId);
  const [bounds] = await db
    .select({ first: min(SessionEvents.seq), last: max(SessionEvents.seq) })
    .from(SessionEvents)
    .where(and(ofTenant, inScope));
  const first = bounds?.first == null ? null : Number(bounds.first);
  let end: number | null = null;
  if (first !== null) {
    const last = Number(bounds!.last);
    // The stretch ends at the first head that covers the last in-scope event; without one yet, at
    // the chain's head (the offline verifier then reports the tail as unsigned).
    const [signed] = await db
      .select({ seq: min(AuditHeads.seq) })
      .from(AuditHeads)
      .where(and(eq(AuditHeads.tenantId, tenantId), gte(AuditHeads.seq, last)));
    const [chain] = await db
      .select({ seq: max(SessionEvents.seq) })
      .from(SessionEvents)
      .where(ofTenant);
    end = signed?.seq != null ? Number(signed.seq) : Number(chain!.seq);
  }
  // Every registered key (a handful at most), not only those of the heads in range now: a head the
  // signer writes while the export streams must still find its key in the header.
  const publicKeys = await db
    .select({ id: AuditSigningKeys.id, publicKey: AuditSigningKeys.publicKey })
    .from(AuditSigningKeys)
    .orderBy(asc(AuditSigningKeys.createdAt), asc(AuditSigningKeys.id));
  yield JSON.stringify({
    kind: "header",
    format: EXPORT_FORMAT,
    v: 1,
    tenantId,
    scope: scopeJson(scope),
    exportedAt: exportedAt.toISOString(),
    publicKeys,
  });
  if (first === null || end === null) return;

  for (let after = first - 1; after < end;) {
    const batch = await db
      .select({
        id: SessionEvents.id,
        tenantId: SessionEvents.tenantId,
        seq: SessionEvents.seq,
        type: SessionEvents.type,
        sessionId: SessionEvents.sessionId,
        agentId: SessionEvents.agentId,
        actorType: SessionEvents.actorType,
        actorId: SessionEvents.actorId,
        data: SessionEvents.data,
        createdAt: SessionEvents.createdAt,
        prevHash: SessionEvents.prevHash,
        hash: SessionEvents.hash,
        inScope: sql<boolean>`coalesce(${inScope}, false)`.mapWith(Boolean),
      })
      .from(SessionEvents)
      .where(and(ofTenant, gt(SessionEvents.seq, after), lte(SessionEvents.seq, end)))
      .orderBy(asc(SessionEvents.seq))
      .limit(batchSize);
    if (batch.length === 0) return;
    const heads = await db
      .select()
      .from(AuditHeads)
      .where(
        and(
          eq(AuditHeads.tenantId, tenantId),
          gte(AuditHeads.seq, batch[0]!.seq),
          lte(AuditHeads.seq, batch[batch.length - 1]!.seq),
        ),
      );
    const headAt = new Map(heads.map((head) => [head.seq, head]));
    for (const { inScope: shown, ...event } of batch) {
      yield JSON.stringify(
        shown
          ? { kind: "event", ...event, createdAt: event.createdAt.toISOString() }
          : { kind: "link", seq: event.seq, prevHash: event.prevHash, hash: event.hash },
      );
      const head = headAt.get(event.seq);
      if (head) {
        yield JSON.stringify({
          kind: "head",
          seq: head.seq,
          hash: head.hash,
          keyId: head.keyId,
          signature: head.signature,
          signedAt: head.signedAt.toISOString(),
        });
      }
    }
    after = batch[batch.length - 1]!.seq;
  }
}
