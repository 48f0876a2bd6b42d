/**
 * Checks a recording against its audit trail: every `recording_segment` event in the chain names a
 * segment by position and SHA-256; each stored segment must open with the recording's key (its
 * position is bound into the encryption, so a moved segment does not) and hash to the chain's value.
 * Every problem is named by segment, not just the first: an auditor wants the whole list.
 * (The chain itself — that these events were not rewritten — is verifyChain's job.)
 */
import { createHash } from "node:crypto";
import { type Database, type Recording, SessionEvents } from "@rd/db";
import { and, asc, eq, sql } from "drizzle-orm";
import type { RecordingStore } from "./contracts.ts";
import { segmentKey } from "./stores/keys.ts";
import { openSegment } from "./segment-crypto.ts";

export type SegmentProblemReason = "missing" | "altered" | "reordered" | "hash_mismatch";

export interface SegmentProblem {
  seq: number;
  reason: SegmentProblemReason;
  message: string;
}

export type RecordingVerification =
  | { ok: true; segments: number; state: Recording["state"]; deleted: boolean }
  | { ok: false; segments: number; state: Recording["state"]; problems: SegmentProblem[] };

/** The segments the chain vouches for, in order: seq → SHA-256 and the event's own number. */
export async function chainedSegments(
  db: Database,
  recording: Pick<Recording, "id" | "tenantId">,
): Promise<{ seq: number; sha256: string; eventSeq: number }[]> {
  const rows = await db
    .select({ data: SessionEvents.data, eventSeq: SessionEvents.seq })
    .from(SessionEvents)
    .where(
      and(
        eq(SessionEvents.tenantId, recording.tenantId),
        eq(SessionEvents.type, "recording_segment"),
        sql`${SessionEvents.data}->>'recordingId' = ${recording.id}`,
      ),
    )
    .orderBy(asc(SessionEvents.seq));
  return rows.map((r) => ({ seq: Number(r.data.seq), sha256: String(r.data.sha256), eventSeq: r.eventSeq }));
}

export async function verifyRecording({
  db,
  store,
  recording,
  key,
}: {
  db: Database;
  store: RecordingStore;
  recording: Recording;
  /** The recording's key, unwrapped. */
  key: Buffer;
}): Promise<RecordingVerification> {
  const chained = await chainedSegments(db, recording);
  const base = { segments: chained.length, state: recording.state };
  // Retention removed the segments on purpose (a `recording_deleted` event says so); the hashes remain.
  if (recording.deletedAt) return { ok: true, ...base, deleted: true };
  const problems: SegmentProblem[] = [];
  const expected = new Map(chained.map((c) => [c.seq, c]));
  for (const { seq, sha256, eventSeq } of chained) {
    let sealed: Uint8Array;
    try {
      sealed = await store.get(segmentKey(recording.tenantId, recording.id, seq));
    } catch (error) {
      if ((error as { code?: string }).code !== "not_found") throw error;
      problems.push({ seq, reason: "missing", message: `segment ${seq} is missing from the store` });
      continue;
    }
    const plain = await tryOpen(key, recording.id, seq, sealed);
    if (!plain) {
      let from: number | undefined;
      for (const other of expected.keys()) {
        if (other !== seq && (await tryOpen(key, recording.id, other, sealed))) {
          from = other;
          break;
        }
      }
      problems.push(
        from !== undefined
          ? {
              seq,
              reason: "reordered",
              message: `segment ${seq} holds segment ${from}'s data: segments were moved or swapped`,
            }
          : { seq, reason: "altered", message: `segment ${seq} was altered: it fails its integrity check` },
      );
      continue;
    }
    const actual = createHash("sha256").update(plain).digest("hex");
    if (actual !== sha256) {
      problems.push({
        seq,
        reason: "hash_mismatch",
        message: `segment ${seq} does not match the SHA-256 in audit event #${eventSeq}`,
      });
    }
  }
  return problems.length === 0 ? { ok: true, ...base, deleted: false } : { ok: false, ...base, problems };
}

async function tryOpen(key: Buffer, recordingId: string, seq: number, sealed: Uint8Array) {
  try {
    return await openSegment(key, recordingId, seq, sealed);
  } catch {
    return null;
  }
}
