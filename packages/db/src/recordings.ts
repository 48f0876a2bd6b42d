/**
 * Recordings in the database (design flow 7): start, claim by a recorder, segments, stop, and the
 * retention sweep's bookkeeping. Every step that matters to an auditor is an event in the chain:
 * `recording_started`, one `recording_segment` per stored segment (its SHA-256), `recording_stopped`,
 * `recording_deleted`. A recording is held by one recorder at a time (a lease on `held_at`), so
 * recorders scale out like workers and a dead one's recording is ended, not left "recording".
 */
import { isTerminalSessionState } from "@rd/protocol";
import { and, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { appendEvent } from "./audit.ts";
import type { Executor } from "./client.ts";
import { notifyControl } from "./control-feed.ts";
import { leaveSession } from "./participants.ts";
import {
  type ActorType,
  Agents,
  type Recording,
  RecordingSegments,
  Recordings,
  RemoteSessions,
  Tenants,
} from "./schema.ts";

type Actor = { type: ActorType; id?: string | null };

/** The agent of a session, for the events a recording writes about it. */
async function agentOf(tx: Executor, sessionId: string): Promise<string | null> {
  const [session] = await tx
    .select({ agentId: RemoteSessions.agentId })
    .from(RemoteSessions)
    .where(eq(RemoteSessions.id, sessionId));
  return session?.agentId ?? null;
}

/** A recorder that has not renewed its lease for this long has died; another takes over or ends it. */
export const RECORDER_LEASE_MS = 15_000;

export class RecordingRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecordingRefused";
  }
}

export interface StartRecordingInput {
  tenantId: string;
  sessionId: string;
  /** Who pressed Record; null when the agent's policy ("always") started it. */
  startedBy: string | null;
  storage: "local" | "s3";
  wrappedKey: string;
  /** Made before the row so the store's prefix can name the recording. */
  id: string;
}

/** Where a recording's objects go in its store (packages/recording stores/keys.ts names the segments). */
const storagePrefix = (tenantId: string, recordingId: string) => `${tenantId}/${recordingId}/`;

/**
 * Starts recording a live session, checking the agent's policy: "never" refuses, "choice" needs a
 * person (startedBy), "always" is started by the system. One recording under way per session.
 */
export async function startRecording(executor: Executor, input: StartRecordingInput): Promise<Recording> {
  return executor.transaction(async (tx) => {
    const [session] = await tx
      .select({ session: RemoteSessions, policy: Agents.recordingPolicy })
      .from(RemoteSessions)
      .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
      .where(and(eq(RemoteSessions.id, input.sessionId), eq(RemoteSessions.tenantId, input.tenantId)))
      .for("update", { of: RemoteSessions });
    if (!session) throw new RecordingRefused("This session does not exist.");
    if (isTerminalSessionState(session.session.status))
      throw new RecordingRefused("This session is over; there is nothing left to record.");
    if (session.policy === "never")
      throw new RecordingRefused(
        "This machine's recording policy is “never”: its sessions are not recorded.",
      );
    const [live] = await tx
      .select({ id: Recordings.id })
      .from(Recordings)
      .where(and(eq(Recordings.sessionId, input.sessionId), eq(Recordings.state, "recording")));
    if (live) throw new RecordingRefused("This session is being recorded already.");
    const [row] = await tx
      .insert(Recordings)
      .values({
        id: input.id,
        tenantId: input.tenantId,
        sessionId: input.sessionId,
        startedBy: input.startedBy,
        storage: input.storage,
        storagePrefix: storagePrefix(input.tenantId, input.id),
        wrappedKey: input.wrappedKey,
      })
      .returning();
    await appendEvent(tx, {
      tenantId: input.tenantId,
      type: "recording_started",
      actor: input.startedBy ? { type: "user", id: input.startedBy } : { type: "system" },
      sessionId: input.sessionId,
      agentId: session.session.agentId,
      data: { recordingId: row!.id, policy: session.policy, storage: input.storage },
    });
    await notifyControl(tx, { kind: "recording", recordingId: row!.id, sessionId: input.sessionId });
    return row!;
  });
}

/**
 * A recorder takes one recording nobody holds (new, or whose holder went quiet): null when there is
 * none. SKIP LOCKED lets several recorders ask at once without waiting on each other.
 */
export async function claimRecording(
  executor: Executor,
  {
    holder,
    now = new Date(),
    tenantId,
  }: { holder: string; now?: Date; /** Only this workspace's. */ tenantId?: string },
): Promise<Recording | null> {
  const stale = new Date(now.getTime() - RECORDER_LEASE_MS);
  const rows = await executor.execute(sql`
    update ${Recordings} set holder = ${holder}, held_at = ${now.toISOString()}
    where id = (
      select id from ${Recordings}
      where state = 'recording' and (holder is null or held_at < ${stale.toISOString()})
        ${tenantId ? sql`and tenant_id = ${tenantId}` : sql``}
      order by started_at limit 1 for update skip locked
    )
    returning id`);
  const id = rowsOf<{ id: string }>(rows)[0]?.id;
  if (!id) return null;
  const [row] = await executor.select().from(Recordings).where(eq(Recordings.id, id));
  return row ?? null;
}

/** postgres.js returns an array, PGlite `{ rows }`. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

/**
 * Renews the holder's lease. Returns what the holder must know (a Stop was asked for), or null when
 * the recording is no longer this holder's to write (ended, or taken over after a long stall).
 */
export async function renewRecording(
  executor: Executor,
  { recordingId, holder }: { recordingId: string; holder: string },
): Promise<{ stopRequested: boolean } | null> {
  const [row] = await executor
    .update(Recordings)
    .set({ heldAt: new Date() })
    .where(
      and(eq(Recordings.id, recordingId), eq(Recordings.holder, holder), eq(Recordings.state, "recording")),
    )
    .returning({ stopRequestedAt: Recordings.stopRequestedAt });
  return row ? { stopRequested: row.stopRequestedAt !== null } : null;
}

/** The recorder's participation, once it joined the session. */
export async function setRecordingParticipant(
  executor: Executor,
  recordingId: string,
  participantId: string,
) {
  await executor.update(Recordings).set({ participantId }).where(eq(Recordings.id, recordingId));
}

export interface StoredSegment {
  seq: number;
  startMs: number;
  durationMs: number;
  gapBeforeMs: number;
  bytes: number;
  sha256: string;
  keyframe: boolean;
  activity: [number, number, number, number][];
  codec: string;
}

/**
 * A segment is safely in the store: its index row, the recording's totals and its hash in the
 * audit chain, in one transaction.
 */
export async function addSegment(
  executor: Executor,
  recording: Recording,
  segment: StoredSegment,
): Promise<void> {
  await executor.transaction(async (tx) => {
    await tx.insert(RecordingSegments).values({
      recordingId: recording.id,
      tenantId: recording.tenantId,
      seq: segment.seq,
      startMs: segment.startMs,
      durationMs: segment.durationMs,
      gapBeforeMs: segment.gapBeforeMs,
      bytes: segment.bytes,
      sha256: segment.sha256,
      keyframe: segment.keyframe,
      activity: segment.activity,
    });
    await tx
      .update(Recordings)
      .set({
        codec: segment.codec,
        segmentCount: segment.seq,
        bytes: sql`${Recordings.bytes} + ${segment.bytes}`,
        durationMs: segment.startMs + segment.durationMs,
      })
      .where(eq(Recordings.id, recording.id));
    await appendEvent(tx, {
      tenantId: recording.tenantId,
      type: "recording_segment",
      actor: { type: "system" },
      sessionId: recording.sessionId,
      agentId: await agentOf(tx, recording.sessionId),
      data: {
        recordingId: recording.id,
        seq: segment.seq,
        sha256: segment.sha256,
        bytes: segment.bytes,
        startMs: segment.startMs,
        durationMs: segment.durationMs,
        ...(segment.gapBeforeMs > 0 ? { gapBeforeMs: segment.gapBeforeMs } : {}),
      },
    });
  });
}

export type FinishedState = "complete" | "incomplete" | "failed";

/**
 * Ends a recording (once: a second call does nothing and returns false) and takes its recorder out
 * of the session. The session itself goes on: a recording that fails never stops a session. Without
 * an actor, a stop someone asked for is theirs (`stop_requested_by`), anything else the system's.
 */
export async function finishRecording(
  executor: Executor,
  {
    recordingId,
    state,
    reason,
    actor,
  }: {
    recordingId: string;
    state: FinishedState;
    reason: string;
    actor?: Actor;
  },
): Promise<boolean> {
  const participantId = await executor.transaction(async (tx) => {
    const [row] = await tx
      .update(Recordings)
      .set({ state, stopReason: reason, endedAt: new Date(), holder: null })
      .where(and(eq(Recordings.id, recordingId), eq(Recordings.state, "recording")))
      .returning();
    if (!row) return undefined;
    const asked = reason === "stopped_by_user" && row.stopRequestedBy;
    await appendEvent(tx, {
      tenantId: row.tenantId,
      type: "recording_stopped",
      actor: actor ?? (asked ? { type: "user", id: row.stopRequestedBy } : { type: "system" }),
      sessionId: row.sessionId,
      agentId: await agentOf(tx, row.sessionId),
      data: {
        recordingId,
        state,
        reason,
        segments: row.segmentCount,
        durationMs: row.durationMs,
        bytes: row.bytes,
      },
    });
    await notifyControl(tx, { kind: "recording", recordingId, sessionId: row.sessionId });
    return row.participantId;
  });
  if (participantId === undefined) return false;
  if (participantId)
    await leaveSession(executor, { participantId, reason: "left", actor: { type: "system" } });
  return true;
}

/**
 * Someone pressed Stop. The holder writes what it has and ends the recording; with no live holder
 * it is ended here. Refused when the agent's policy records every session.
 */
export async function requestStop(
  executor: Executor,
  { tenantId, recordingId, userId }: { tenantId: string; recordingId: string; userId: string },
): Promise<void> {
  const [row] = await executor
    .select({ recording: Recordings, policy: Agents.recordingPolicy })
    .from(Recordings)
    .innerJoin(RemoteSessions, eq(RemoteSessions.id, Recordings.sessionId))
    .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
    .where(and(eq(Recordings.id, recordingId), eq(Recordings.tenantId, tenantId)));
  if (!row || row.recording.state !== "recording")
    throw new RecordingRefused("This recording is not running.");
  if (row.policy === "always")
    throw new RecordingRefused(
      "This machine's recording policy is “always”: its sessions are recorded to the end.",
    );
  const stale = Date.now() - RECORDER_LEASE_MS;
  const held = row.recording.holder && row.recording.heldAt && row.recording.heldAt.getTime() > stale;
  if (!held) {
    await finishRecording(executor, {
      recordingId,
      state: "complete",
      reason: "stopped_by_user",
      actor: { type: "user", id: userId },
    });
    return;
  }
  await executor.transaction(async (tx) => {
    await tx
      .update(Recordings)
      .set({ stopRequestedAt: new Date(), stopRequestedBy: userId })
      .where(and(eq(Recordings.id, recordingId), isNull(Recordings.stopRequestedAt)));
    await notifyControl(tx, { kind: "recording", recordingId, sessionId: row.recording.sessionId });
  });
}

/**
 * Recordings whose recorder died and whose session ended meanwhile (no one will come back for them):
 * ended as incomplete, up to their last stored segment.
 */
export async function sweepOrphanRecordings(executor: Executor, now = new Date()): Promise<number> {
  const stale = new Date(now.getTime() - RECORDER_LEASE_MS);
  const orphans = await executor
    .select({ id: Recordings.id })
    .from(Recordings)
    .innerJoin(RemoteSessions, eq(RemoteSessions.id, Recordings.sessionId))
    .where(
      and(
        eq(Recordings.state, "recording"),
        or(isNull(Recordings.heldAt), lt(Recordings.heldAt, stale)),
        isNotNull(RemoteSessions.endedAt),
      ),
    );
  for (const { id } of orphans)
    await finishRecording(executor, { recordingId: id, state: "incomplete", reason: "recorder_lost" });
  return orphans.length;
}

/**
 * Live sessions whose agent records every session but that have no recording yet; among
 * `sessionIds` only, when given (the sessions that just turned active, rather than all of them).
 */
export async function sessionsOwedRecording(
  executor: Executor,
  sessionIds?: readonly string[],
): Promise<{ id: string; tenantId: string }[]> {
  if (sessionIds?.length === 0) return [];
  return executor
    .select({ id: RemoteSessions.id, tenantId: RemoteSessions.tenantId })
    .from(RemoteSessions)
    .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
    .where(
      and(
        sessionIds ? inArray(RemoteSessions.id, [...sessionIds]) : undefined,
        eq(RemoteSessions.status, "active"),
        eq(Agents.recordingPolicy, "always"),
        sql`not exists (select 1 from ${Recordings} r where r.session_id = ${RemoteSessions.id})`,
      ),
    );
}

/** Recordings past their tenant's retention, oldest first. */
export async function expiredRecordings(
  executor: Executor,
  now = new Date(),
  limit = 100,
): Promise<Recording[]> {
  const rows = await executor
    .select({ recording: Recordings })
    .from(Recordings)
    .innerJoin(Tenants, eq(Tenants.id, Recordings.tenantId))
    .where(
      and(
        isNull(Recordings.deletedAt),
        sql`${Recordings.state} <> 'recording'`,
        sql`${Recordings.endedAt} < ${now.toISOString()}::timestamptz - make_interval(days => ${Tenants.recordingRetentionDays})`,
      ),
    )
    .orderBy(Recordings.endedAt)
    .limit(limit);
  return rows.map((r) => r.recording);
}

/** The retention sweeper removed a recording's segments: the row and the chain's hashes stay. */
export async function markRecordingDeleted(executor: Executor, recording: Recording, retentionDays: number) {
  await executor.transaction(async (tx) => {
    const [row] = await tx
      .update(Recordings)
      .set({ state: "deleted", deletedAt: new Date() })
      .where(and(eq(Recordings.id, recording.id), isNull(Recordings.deletedAt)))
      .returning();
    if (!row) return;
    await appendEvent(tx, {
      tenantId: recording.tenantId,
      type: "recording_deleted",
      actor: { type: "system" },
      sessionId: recording.sessionId,
      agentId: await agentOf(tx, recording.sessionId),
      data: {
        recordingId: recording.id,
        reason: "retention",
        retentionDays,
        segments: recording.segmentCount,
        bytes: recording.bytes,
      },
    });
  });
}
