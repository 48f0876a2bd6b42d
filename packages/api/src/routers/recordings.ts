/**
 * Session recordings for review: the one rule of who may review a session's recording, the manifest
 * the replay page plays (segments, per-second activity, gaps) beside the session's audit trail on
 * each recording's clock, and the look-up the segment route makes before it opens a sealed segment.
 */
import {
  Agents,
  Desks,
  type Recording,
  RecordingSegments,
  Recordings,
  RemoteSessions,
  SessionEvents,
  SessionParticipants,
  Users,
} from "@rd/db";
import { and, asc, eq, exists, inArray, ne, or, type SQL } from "drizzle-orm";
import { z } from "zod";
import { id } from "../inputs.ts";
import { deskOfSession } from "./desk-of-session.ts";
import { withActorNames } from "./event-actors.ts";
import { type Context, notFound, protectedProcedure, router } from "../trpc.ts";

/** Per second of a recording: [second on its clock, encoded bytes, pointer clicks, key presses]. */
export type ActivitySecond = [
  second: number,
  encodedBytes: number,
  pointerClicks: number,
  keyPresses: number,
];

/** A stretch of a recording's clock without picture, in ms. */
export interface Gap {
  startMs: number;
  endMs: number;
}

/** The parts of a segment row the gap and length rules read. */
export interface SegmentTiming {
  startMs: number;
  durationMs: number;
  gapBeforeMs: number;
}

/**
 * A hole between two segments longer than this is a gap even when the recorder did not flag it
 * (gapBeforeMs 0): a browser's media pipeline stalls at any hole, and a second is far beyond the
 * rounding of segment durations to whole milliseconds.
 */
export const UNFLAGGED_GAP_MS = 1000;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const sessionColumns = {
  id: RemoteSessions.id,
  tenantId: RemoteSessions.tenantId,
  status: RemoteSessions.status,
  requestedAt: RemoteSessions.requestedAt,
  startedAt: RemoteSessions.startedAt,
  endedAt: RemoteSessions.endedAt,
  agentId: RemoteSessions.agentId,
  agentName: Agents.name,
  technicianId: RemoteSessions.technicianId,
  technicianName: Users.name,
  deskId: RemoteSessions.deskId,
  /** A desk's session: who the desk is for. */
  candidateName: Desks.candidateLabel,
};

/**
 * Who may review a session's recording and the audit trail beside it: admins of its tenant, its
 * technician, anyone who was ever a participant in it, and for a desk's session the desk's
 * interviewer. As a condition on `remote_sessions`, so the rule is one query in one place.
 */
export function reviewerCondition(db: Context["db"], user: NonNullable<Context["user"]>): SQL | undefined {
  if (user.role === "admin") return undefined;
  return or(
    eq(RemoteSessions.technicianId, user.id),
    exists(
      db
        .select({ one: SessionParticipants.id })
        .from(SessionParticipants)
        .where(
          and(
            eq(SessionParticipants.sessionId, RemoteSessions.id),
            eq(SessionParticipants.tenantId, RemoteSessions.tenantId),
            eq(SessionParticipants.userId, user.id),
          ),
        ),
    ),
    exists(
      db
        .select({ one: Desks.id })
        .from(Desks)
        .where(and(deskOfSession, eq(Desks.createdBy, user.id))),
    ),
  );
}

/**
 * The session, when the caller may review its recording; null otherwise — another tenant's, one the
 * caller had no part in, or none at all look the same, so a refusal never tells that it exists.
 */
export async function findReviewableSession(ctx: Context, sessionId: string) {
  const user = ctx.user;
  if (!user || user.gate || !UUID.test(sessionId)) return null;
  const [session] = await ctx.db
    .select(sessionColumns)
    .from(RemoteSessions)
    .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
    .innerJoin(Users, eq(Users.id, RemoteSessions.technicianId))
    .leftJoin(Desks, deskOfSession)
    .where(
      and(
        eq(RemoteSessions.id, sessionId),
        eq(RemoteSessions.tenantId, user.tenantId),
        reviewerCondition(ctx.db, user),
      ),
    );
  return session ?? null;
}

/** As `findReviewableSession`, throwing NOT_FOUND (never FORBIDDEN) for a session the caller may not review. */
export async function reviewableSession(ctx: Context, sessionId: string) {
  const session = await findReviewableSession(ctx, sessionId);
  if (!session) throw notFound("Session");
  return session;
}

/** What the segment route needs to serve one segment, once the caller may review its session. */
export type SegmentLookup =
  | { ok: false; reason: "not_found" }
  | { ok: false; reason: "deleted"; deletedAt: Date | null }
  | {
      ok: true;
      tenantId: string;
      recordingId: string;
      sessionId: string;
      seq: number;
      wrappedKey: string;
      /** SHA-256 (hex) of the plaintext segment, as written into the audit chain. */
      sha256: string;
    };

/**
 * Finds segment `seq` of a recording for the caller, applying the review rule to the recording's
 * session. Not a procedure: the wrapped key must never reach a browser.
 */
export async function segmentForReview(
  ctx: Context,
  recordingId: string,
  seq: number,
): Promise<SegmentLookup> {
  const user = ctx.user;
  if (!user || !UUID.test(recordingId) || !Number.isSafeInteger(seq) || seq < 1) {
    return { ok: false, reason: "not_found" };
  }
  const [recording] = await ctx.db
    .select({
      id: Recordings.id,
      sessionId: Recordings.sessionId,
      state: Recordings.state,
      deletedAt: Recordings.deletedAt,
      tenantId: Recordings.tenantId,
      wrappedKey: Recordings.wrappedKey,
    })
    .from(Recordings)
    .where(and(eq(Recordings.id, recordingId), eq(Recordings.tenantId, user.tenantId)));
  if (!recording || !(await findReviewableSession(ctx, recording.sessionId))) {
    return { ok: false, reason: "not_found" };
  }
  if (recording.state === "deleted" || recording.deletedAt) {
    return { ok: false, reason: "deleted", deletedAt: recording.deletedAt };
  }
  const [segment] = await ctx.db
    .select({ seq: RecordingSegments.seq, sha256: RecordingSegments.sha256 })
    .from(RecordingSegments)
    .where(
      and(
        eq(RecordingSegments.recordingId, recording.id),
        eq(RecordingSegments.tenantId, user.tenantId),
        eq(RecordingSegments.seq, seq),
      ),
    );
  if (!segment) return { ok: false, reason: "not_found" };
  return {
    ok: true,
    recordingId: recording.id,
    sessionId: recording.sessionId,
    seq: segment.seq,
    tenantId: recording.tenantId,
    wrappedKey: recording.wrappedKey,
    sha256: segment.sha256,
  };
}

/** The per-second activity of all segments as one array by second; a second split over two segments is summed. */
export function mergeActivity(lists: readonly (readonly ActivitySecond[])[]): ActivitySecond[] {
  const bySecond = new Map<number, ActivitySecond>();
  for (const list of lists) {
    for (const [second, bytes, clicks, keys] of list) {
      const seen = bySecond.get(second);
      if (seen) {
        seen[1] += bytes;
        seen[2] += clicks;
        seen[3] += keys;
      } else bySecond.set(second, [second, bytes, clicks, keys]);
    }
  }
  return [...bySecond.values()].sort((a, b) => a[0] - b[0]);
}

/** Where the last segment ends on the recording's clock; 0 without segments. */
export const segmentsEnd = (segments: readonly SegmentTiming[]) =>
  segments.reduce((end, s) => Math.max(end, s.startMs + s.durationMs), 0);

/**
 * How long a recording's clock runs for the player: to its recorded duration or its end, whichever
 * is later, and never short of its last segment. A recording under way runs to its last segment
 * (what can be played now).
 */
export function recordingLengthMs(
  recording: Pick<Recording, "state" | "startedAt" | "endedAt" | "durationMs">,
  segments: readonly SegmentTiming[],
): number {
  const end = segmentsEnd(segments);
  if (recording.state === "recording") return end;
  const wall = recording.endedAt ? recording.endedAt.getTime() - recording.startedAt.getTime() : 0;
  return Math.max(end, recording.durationMs, wall);
}

/**
 * The stretches without picture: before each segment the recorder flagged (gapBeforeMs) or that
 * starts more than UNFLAGGED_GAP_MS after the previous one ended — from that end, since nothing
 * plays between; and after the last segment of a recording that ended without a goodbye
 * (incomplete, failed) up to its length. Segments must be in `seq` order.
 */
export function recordingGaps(
  segments: readonly SegmentTiming[],
  options: { lengthMs: number; trailing: boolean },
): Gap[] {
  const gaps: Gap[] = [];
  let previousEnd = 0;
  for (const segment of segments) {
    const hole = segment.startMs - previousEnd;
    if (hole > 0 && (segment.gapBeforeMs > 0 || hole > UNFLAGGED_GAP_MS)) {
      gaps.push({ startMs: previousEnd, endMs: segment.startMs });
    }
    previousEnd = Math.max(previousEnd, segment.startMs + segment.durationMs);
  }
  if (options.trailing && options.lengthMs - previousEnd > UNFLAGGED_GAP_MS) {
    gaps.push({ startMs: previousEnd, endMs: options.lengthMs });
  }
  return gaps;
}

export const recordingsRouter = router({
  /**
   * A session's recordings for the replay page: each with its segments, merged per-second activity
   * and gaps on its own clock (ms since its start); and the session's audit events, each with its
   * position on every recording's clock and the recording it happened during, if any (without the
   * `recording_segment` events: the chain's record of each segment's hash).
   */
  bySession: protectedProcedure
    .input(z.object({ sessionId: id("Session id") }))
    .query(async ({ ctx, input }) => {
      const session = await reviewableSession(ctx, input.sessionId);
      const tenantId = ctx.user.tenantId;
      const [recordingRows, eventRows] = await Promise.all([
        ctx.db
          .select({
            id: Recordings.id,
            state: Recordings.state,
            stopReason: Recordings.stopReason,
            codec: Recordings.codec,
            startedAt: Recordings.startedAt,
            endedAt: Recordings.endedAt,
            deletedAt: Recordings.deletedAt,
            durationMs: Recordings.durationMs,
            bytes: Recordings.bytes,
            segmentCount: Recordings.segmentCount,
            startedByName: Users.name,
          })
          .from(Recordings)
          .leftJoin(Users, eq(Users.id, Recordings.startedBy))
          .where(and(eq(Recordings.sessionId, session.id), eq(Recordings.tenantId, tenantId)))
          .orderBy(asc(Recordings.startedAt)),
        ctx.db
          .select({
            id: SessionEvents.id,
            seq: SessionEvents.seq,
            type: SessionEvents.type,
            actorType: SessionEvents.actorType,
            actorId: SessionEvents.actorId,
            data: SessionEvents.data,
            createdAt: SessionEvents.createdAt,
            hash: SessionEvents.hash,
          })
          .from(SessionEvents)
          .where(
            and(
              eq(SessionEvents.sessionId, session.id),
              eq(SessionEvents.tenantId, tenantId),
              // One per stored segment (its hash in the chain): bookkeeping, not something that
              // happened in the session; the session page's timeline still lists them.
              ne(SessionEvents.type, "recording_segment"),
            ),
          )
          .orderBy(asc(SessionEvents.seq)),
      ]);

      const recordingIds = recordingRows.map((r) => r.id);
      const [segmentRows, namedEvents] = await Promise.all([
        recordingIds.length === 0
          ? []
          : ctx.db
              .select({
                recordingId: RecordingSegments.recordingId,
                seq: RecordingSegments.seq,
                startMs: RecordingSegments.startMs,
                durationMs: RecordingSegments.durationMs,
                gapBeforeMs: RecordingSegments.gapBeforeMs,
                bytes: RecordingSegments.bytes,
                keyframe: RecordingSegments.keyframe,
                activity: RecordingSegments.activity,
              })
              .from(RecordingSegments)
              .where(
                and(
                  inArray(RecordingSegments.recordingId, recordingIds),
                  eq(RecordingSegments.tenantId, tenantId),
                ),
              )
              .orderBy(asc(RecordingSegments.recordingId), asc(RecordingSegments.seq)),
        withActorNames(ctx.db, tenantId, eventRows),
      ]);

      const now = Date.now();
      const recordings = recordingRows.map((recording) => {
        const rows = segmentRows.filter((s) => s.recordingId === recording.id);
        const segments = rows.map(({ seq, startMs, durationMs, gapBeforeMs, bytes, keyframe }) => ({
          seq,
          startMs,
          durationMs,
          gapBeforeMs,
          bytes,
          keyframe,
        }));
        const lengthMs = recordingLengthMs(recording, segments);
        return {
          ...recording,
          /** The extent of this recording's clock the player shows, in ms. */
          lengthMs,
          segments,
          activity: mergeActivity(rows.map((s) => s.activity)),
          gaps: recordingGaps(segments, {
            lengthMs,
            trailing: recording.state === "incomplete" || recording.state === "failed",
          }),
        };
      });

      // A recording's window on the wall clock: from its start to its end (or now, while it runs).
      const windows = recordings.map((r) => ({
        id: r.id,
        from: r.startedAt.getTime(),
        to: r.endedAt?.getTime() ?? (r.state === "recording" ? now : r.startedAt.getTime() + r.lengthMs),
      }));
      const events = namedEvents.map((event) => {
        const at = event.createdAt.getTime();
        return {
          ...event,
          /** Who did it, in words: the agent by the name the session shows. */
          actor: event.actorType === "agent" ? session.agentName : event.actorName,
          /** Position on each recording's clock (ms since its start; negative before it), by recording id. */
          atMs: Object.fromEntries(windows.map((w) => [w.id, at - w.from])) as Record<string, number>,
          /** The recording this event happened during; null when none was running. */
          recordingId: windows.find((w) => at >= w.from && at <= w.to)?.id ?? null,
        };
      });

      const { tenantId: _tenantId, ...summary } = session;
      return { session: summary, recordings, events };
    }),

  /** Whether a session has recordings the caller may review (the session page's Replay link). */
  countBySession: protectedProcedure
    .input(z.object({ sessionId: id("Session id") }))
    .query(async ({ ctx, input }) => {
      const session = await reviewableSession(ctx, input.sessionId);
      const rows = await ctx.db
        .select({ state: Recordings.state })
        .from(Recordings)
        .where(and(eq(Recordings.sessionId, session.id), eq(Recordings.tenantId, ctx.user.tenantId)));
      return { count: rows.length, recording: rows.some((r) => r.state === "recording") };
    }),
});
