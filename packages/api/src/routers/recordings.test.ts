/**
 * Recording review on both databases: who may review a session's recording (everyone else gets
 * NOT_FOUND, never FORBIDDEN), the replay manifest (segments, merged activity, gaps, events on each
 * recording's clock), the segment look-up the dashboard's segment route makes, and the pure rules.
 */
import { authUserOf, type AuthUser } from "@rd/auth";
import {
  appendEvent,
  type DbHandle,
  RecordingSegments,
  Recordings,
  RemoteSessions,
  SessionEvents,
  Users,
  type UserRole,
} from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../root.ts";
import { createFixture, type Fixture } from "../test-fixture.ts";
import type { Context } from "../trpc.ts";
import {
  type ActivitySecond,
  mergeActivity,
  recordingGaps,
  recordingLengthMs,
  segmentForReview,
  UNFLAGGED_GAP_MS,
} from "./recordings.ts";

const notFound = { code: "NOT_FOUND" };
const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

describe.each(testDatabases())("recordings on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;
  /** A technician of tenant A who was never in its session. */
  let bystander: AuthUser;
  /** A technician of tenant A who joined the session as an observer. */
  let observer: AuthUser;
  /** The interviewer whose desk a second session shows. */
  let interviewer: AuthUser;
  let deskSessionId: string;
  let recordingId: string;
  let secondRecordingId: string;
  let startedAt: Date;

  const context = (user: AuthUser | null): Context => ({
    db: f.db,
    auth: f.auth,
    user,
    ticketKey: f.ticketKey,
    secretBox: f.secretBox,
  });
  const as = (user: AuthUser) => createCaller(context(user));

  async function user(role: UserRole, label: string) {
    const [row] = await f.db
      .insert(Users)
      .values({ tenantId: f.a.id, email: `${label}@alpha.example`, name: label, role, passwordHash: "x" })
      .returning();
    return authUserOf(row!);
  }

  async function insertRecording(values: Partial<typeof Recordings.$inferInsert> & { sessionId: string }) {
    const [row] = await f.db
      .insert(Recordings)
      .values({
        tenantId: f.a.id,
        storage: "local",
        storagePrefix: `recordings/${values.sessionId}/${Math.random().toString(36).slice(2)}`,
        wrappedKey: "wrapped-key",
        codec: "h264",
        ...values,
      })
      .returning();
    return row!;
  }

  async function insertSegments(
    recording: string,
    rows: {
      seq: number;
      startMs: number;
      durationMs: number;
      gapBeforeMs?: number;
      keyframe?: boolean;
      activity?: ActivitySecond[];
    }[],
  ) {
    await f.db.insert(RecordingSegments).values(
      rows.map((r) => ({
        recordingId: recording,
        tenantId: f.a.id,
        bytes: 1000 * r.seq,
        sha256: `${r.seq}`.padStart(64, "0"),
        keyframe: r.keyframe ?? true,
        gapBeforeMs: r.gapBeforeMs ?? 0,
        activity: r.activity ?? [],
        ...r,
      })),
    );
  }

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
    bystander = await user("technician", "bystander");
    observer = await user("technician", "observer");
    interviewer = await user("technician", "interviewer");
    await as(observer).sessions.join({ id: f.a.session.id });

    // The session's events so far (requested, the owner and the observer joining) happened after
    // this recording started: they sit a second or more into its clock.
    const [first] = await f.db
      .select({ createdAt: SessionEvents.createdAt })
      .from(SessionEvents)
      .where(eq(SessionEvents.sessionId, f.a.session.id))
      .orderBy(asc(SessionEvents.seq));
    startedAt = new Date(first!.createdAt.getTime() - 1500);
    const recording = await insertRecording({
      sessionId: f.a.session.id,
      state: "incomplete",
      stopReason: "stream_lost",
      startedAt,
      endedAt: new Date(startedAt.getTime() + 30_000),
      durationMs: 24_000,
      segmentCount: 3,
      bytes: 6000,
      startedBy: f.a.tech.id,
    });
    recordingId = recording.id;
    await appendEvent(f.db, {
      tenantId: f.a.id,
      type: "recording_segment",
      actor: { type: "system" },
      sessionId: f.a.session.id,
      data: { recordingId, seq: 1 },
    });
    await insertSegments(recordingId, [
      {
        seq: 1,
        startMs: 0,
        durationMs: 4000,
        activity: [
          [0, 900, 1, 0],
          [3, 100, 0, 2],
        ],
      },
      {
        seq: 2,
        startMs: 4000,
        durationMs: 4000,
        keyframe: false,
        activity: [
          [3, 50, 1, 0],
          [4, 10, 0, 0],
        ],
      },
      // The stream stalled for 6 s before the third segment.
      { seq: 3, startMs: 14_000, durationMs: 10_000, gapBeforeMs: 6000, activity: [[20, 5, 0, 0]] },
    ]);
    // Stopped and started again later: a second recording of the same session, on its own clock.
    const second = await insertRecording({
      sessionId: f.a.session.id,
      state: "complete",
      stopReason: "session_ended",
      startedAt: new Date(startedAt.getTime() + 3_600_000),
      endedAt: new Date(startedAt.getTime() + 3_610_000),
      durationMs: 10_000,
    });
    secondRecordingId = second.id;
    await insertSegments(secondRecordingId, [{ seq: 1, startMs: 0, durationMs: 10_000 }]);

    // A desk's session: shown by the tenant's technician, on the interviewer's desk.
    const { desk } = await as(interviewer).desks.create({ candidateLabel: "Ada" });
    const [deskSession] = await f.db
      .insert(RemoteSessions)
      .values({ tenantId: f.a.id, agentId: f.a.onlineAgent, technicianId: f.a.admin.id, deskId: desk.id })
      .returning();
    deskSessionId = deskSession!.id;
    await insertRecording({ sessionId: deskSessionId, state: "recording" });
  });
  afterAll(() => handle?.close());

  describe("who may review", () => {
    it("lets the tenant's admin, the session's technician and a participant review it", async () => {
      for (const caller of [f.a.asAdmin, f.a.asTech, as(observer)]) {
        const replay = await caller.recordings.bySession({ sessionId: f.a.session.id });
        expect(replay.session.id).toBe(f.a.session.id);
        expect(replay.recordings.map((r) => r.id)).toEqual([recordingId, secondRecordingId]);
      }
    });

    it("lets a desk's interviewer review the desk's session, and nobody else who was not in it", async () => {
      const replay = await as(interviewer).recordings.bySession({ sessionId: deskSessionId });
      expect(replay.recordings).toMatchObject([{ state: "recording" }]);
      await expect(as(interviewer).recordings.bySession({ sessionId: f.a.session.id })).rejects.toMatchObject(
        notFound,
      );
      await expect(f.a.asTech.recordings.bySession({ sessionId: deskSessionId })).rejects.toMatchObject(
        notFound,
      );
    });

    it("answers NOT_FOUND, never FORBIDDEN, to a same-tenant technician who was not in the session", async () => {
      await expect(as(bystander).recordings.bySession({ sessionId: f.a.session.id })).rejects.toMatchObject(
        notFound,
      );
      await expect(
        as(bystander).recordings.countBySession({ sessionId: f.a.session.id }),
      ).rejects.toMatchObject(notFound);
      // The same refusal as for a session that does not exist at all.
      const missing = await as(bystander)
        .recordings.bySession({ sessionId: UNKNOWN_ID })
        .catch((e: unknown) => e);
      const refused = await as(bystander)
        .recordings.bySession({ sessionId: f.a.session.id })
        .catch((e: unknown) => e);
      expect((refused as Error).message).toBe((missing as Error).message);
    });

    it("answers NOT_FOUND to every user of another tenant, admins included", async () => {
      for (const caller of [f.b.asAdmin, f.b.asTech]) {
        await expect(caller.recordings.bySession({ sessionId: f.a.session.id })).rejects.toMatchObject(
          notFound,
        );
        await expect(caller.recordings.bySession({ sessionId: deskSessionId })).rejects.toMatchObject(
          notFound,
        );
      }
      await expect(f.a.asAdmin.recordings.bySession({ sessionId: f.b.session.id })).rejects.toMatchObject(
        notFound,
      );
    });

    it("refuses a caller who is not signed in", async () => {
      await expect(f.anonymous.recordings.bySession({ sessionId: f.a.session.id })).rejects.toMatchObject({
        code: "UNAUTHORIZED",
      });
    });
  });

  describe("the replay manifest", () => {
    it("gives each recording its segments, merged activity and gaps on its own clock", async () => {
      const { recordings, session } = await f.a.asTech.recordings.bySession({ sessionId: f.a.session.id });
      expect(session).toMatchObject({
        id: f.a.session.id,
        agentName: "Alpha-desk",
        technicianId: f.a.tech.id,
        technicianName: "tech",
        status: "pending",
      });
      expect(session).not.toHaveProperty("tenantId");
      const [first, second] = recordings;
      expect(first).toMatchObject({
        id: recordingId,
        state: "incomplete",
        stopReason: "stream_lost",
        codec: "h264",
        startedByName: "tech",
        durationMs: 24_000,
        segmentCount: 3,
        // Ended 30 s after it started though its last segment ends at 24 s: the stream was lost.
        lengthMs: 30_000,
        segments: [
          { seq: 1, startMs: 0, durationMs: 4000, gapBeforeMs: 0, bytes: 1000, keyframe: true },
          { seq: 2, startMs: 4000, durationMs: 4000, gapBeforeMs: 0, bytes: 2000, keyframe: false },
          { seq: 3, startMs: 14_000, durationMs: 10_000, gapBeforeMs: 6000, bytes: 3000, keyframe: true },
        ],
        activity: [
          [0, 900, 1, 0],
          [3, 150, 1, 2],
          [4, 10, 0, 0],
          [20, 5, 0, 0],
        ],
        gaps: [
          { startMs: 8000, endMs: 14_000 },
          { startMs: 24_000, endMs: 30_000 },
        ],
      });
      expect(first).not.toHaveProperty("wrappedKey");
      expect(first).not.toHaveProperty("storagePrefix");
      expect(first!.segments[0]).not.toHaveProperty("sha256");
      expect(second).toMatchObject({ state: "complete", lengthMs: 10_000, gaps: [] });
    });

    it("places every event on each recording's clock and names the recording it happened during", async () => {
      const { events } = await f.a.asTech.recordings.bySession({ sessionId: f.a.session.id });
      const all = await f.db
        .select()
        .from(SessionEvents)
        .where(eq(SessionEvents.sessionId, f.a.session.id))
        .orderBy(asc(SessionEvents.seq));
      expect(events.map((e) => e.id)).toEqual(
        all.filter((e) => e.type !== "recording_segment").map((e) => e.id),
      );
      expect(events.some((e) => e.type === "recording_segment")).toBe(false);
      const requested = events.find((e) => e.type === "session_requested")!;
      expect(requested).toMatchObject({ actorType: "user", actor: "tech", recordingId });
      expect(requested.atMs[recordingId]).toBe(1500);
      // The second recording started an hour later: on its clock the event is an hour before it.
      expect(requested.atMs[secondRecordingId]).toBe(1500 - 3_600_000);
      // The observer's own join names them; the owner's opening is the request itself.
      const joined = events.filter((e) => e.type === "participant_joined").map((e) => e.actor);
      expect(joined).toEqual(["observer"]);
    });

    it("says whether a session has recordings, for the Replay link", async () => {
      await expect(f.a.asTech.recordings.countBySession({ sessionId: f.a.session.id })).resolves.toEqual({
        count: 2,
        recording: false,
      });
      await expect(as(interviewer).recordings.countBySession({ sessionId: deskSessionId })).resolves.toEqual({
        count: 1,
        recording: true,
      });
      await expect(f.b.asTech.recordings.countBySession({ sessionId: f.b.session.id })).resolves.toEqual({
        count: 0,
        recording: false,
      });
    });
  });

  describe("the sessions list", () => {
    it("offers a replay where a kept recording is, to whoever may review it", async () => {
      // A session whose only recording was deleted (retention) has nothing to replay.
      const [swept] = await f.db
        .insert(RemoteSessions)
        .values({ tenantId: f.a.id, agentId: f.a.onlineAgent, technicianId: f.a.tech.id })
        .returning();
      await insertRecording({ sessionId: swept!.id, state: "deleted", deletedAt: new Date() });
      const replayable = async (caller: ReturnType<typeof as>) =>
        Object.fromEntries(
          (await caller.sessions.list({ limit: 100 })).items.map((s) => [s.id, s.replayable]),
        );
      // The desk's recording has stored no segment yet: nothing to play, for anyone.
      expect(await replayable(f.a.asAdmin)).toMatchObject({ [deskSessionId]: false });
      await f.db.update(Recordings).set({ segmentCount: 1 }).where(eq(Recordings.sessionId, deskSessionId));

      expect(await replayable(f.a.asAdmin)).toMatchObject({
        [f.a.session.id]: true,
        [deskSessionId]: true,
        [swept!.id]: false,
      });
      expect(await replayable(f.a.asTech)).toMatchObject({ [f.a.session.id]: true, [deskSessionId]: false });
      expect(await replayable(as(interviewer))).toMatchObject({
        [f.a.session.id]: false,
        [deskSessionId]: true,
      });
      expect(await replayable(as(bystander))).toMatchObject({
        [f.a.session.id]: false,
        [deskSessionId]: false,
      });
      expect(await replayable(f.b.asAdmin)).toEqual({ [f.b.session.id]: false });
    });
  });

  describe("segment look-up for the segment route", () => {
    it("finds a segment of a recording the caller may review, with what opening it needs", async () => {
      const found = await segmentForReview(context(observer), recordingId, 2);
      expect(found).toMatchObject({
        ok: true,
        recordingId,
        sessionId: f.a.session.id,
        seq: 2,
        wrappedKey: "wrapped-key",
        sha256: "2".padStart(64, "0"),
      });
      expect(found.ok && found.tenantId).toBe(f.a.id);
    });

    it("answers not_found alike for a missing segment, a stranger, another tenant and nobody", async () => {
      const cases = [
        segmentForReview(context(f.a.tech), recordingId, 4),
        segmentForReview(context(f.a.tech), recordingId, 0),
        segmentForReview(context(f.a.tech), UNKNOWN_ID, 1),
        segmentForReview(context(f.a.tech), "not-an-id", 1),
        segmentForReview(context(bystander), recordingId, 1),
        segmentForReview(context(f.b.admin), recordingId, 1),
        segmentForReview(context(null), recordingId, 1),
      ];
      for (const result of await Promise.all(cases))
        expect(result).toEqual({ ok: false, reason: "not_found" });
    });

    it("says a deleted recording is gone, only to someone who may review it", async () => {
      const deletedAt = new Date("2025-01-02T03:04:05Z");
      const deleted = await insertRecording({
        sessionId: f.a.session.id,
        state: "deleted",
        deletedAt,
        startedAt: new Date(startedAt.getTime() + 7_200_000),
      });
      await insertSegments(deleted.id, [{ seq: 1, startMs: 0, durationMs: 1000 }]);
      expect(await segmentForReview(context(f.a.admin), deleted.id, 1)).toEqual({
        ok: false,
        reason: "deleted",
        deletedAt,
      });
      expect(await segmentForReview(context(bystander), deleted.id, 1)).toEqual({
        ok: false,
        reason: "not_found",
      });
      const { recordings } = await f.a.asAdmin.recordings.bySession({ sessionId: f.a.session.id });
      expect(recordings.at(-1)).toMatchObject({ id: deleted.id, state: "deleted", deletedAt });
    });
  });
});

describe("recording rules", () => {
  it("sums a second that two segments share and orders the seconds", () => {
    expect(
      mergeActivity([
        [
          [5, 10, 1, 0],
          [6, 20, 0, 1],
        ],
        [
          [6, 5, 2, 2],
          [2, 1, 0, 0],
        ],
      ]),
    ).toEqual([
      [2, 1, 0, 0],
      [5, 10, 1, 0],
      [6, 25, 2, 3],
    ]);
  });

  it("finds flagged gaps, unflagged holes longer than a second, and a late first picture", () => {
    const segments = [
      { startMs: 2000, durationMs: 1000, gapBeforeMs: 0 },
      { startMs: 3000, durationMs: 1000, gapBeforeMs: 0 },
      // A flagged stall, even a short one.
      { startMs: 4300, durationMs: 1000, gapBeforeMs: 300 },
      // A rounding hole: not a gap.
      { startMs: 5320, durationMs: 1000, gapBeforeMs: 0 },
      // An unflagged hole.
      { startMs: 6320 + UNFLAGGED_GAP_MS + 1, durationMs: 1000, gapBeforeMs: 0 },
    ];
    expect(recordingGaps(segments, { lengthMs: 9000, trailing: false })).toEqual([
      { startMs: 0, endMs: 2000 },
      { startMs: 4000, endMs: 4300 },
      { startMs: 6320, endMs: 7321 },
    ]);
  });

  it("ends an incomplete recording with a gap up to its length", () => {
    const segments = [{ startMs: 0, durationMs: 4000, gapBeforeMs: 0 }];
    expect(recordingGaps(segments, { lengthMs: 10_000, trailing: true })).toEqual([
      { startMs: 4000, endMs: 10_000 },
    ]);
    expect(recordingGaps([], { lengthMs: 5000, trailing: true })).toEqual([{ startMs: 0, endMs: 5000 }]);
    expect(recordingGaps(segments, { lengthMs: 4200, trailing: true })).toEqual([]);
  });

  it("runs a recording under way to its last segment, an ended one to the latest of its ends", () => {
    const segments = [{ startMs: 0, durationMs: 4000, gapBeforeMs: 0 }];
    const startedAt = new Date(0);
    expect(
      recordingLengthMs({ state: "recording", startedAt, endedAt: null, durationMs: 9000 }, segments),
    ).toBe(4000);
    expect(
      recordingLengthMs(
        { state: "complete", startedAt, endedAt: new Date(6000), durationMs: 5000 },
        segments,
      ),
    ).toBe(6000);
    expect(recordingLengthMs({ state: "complete", startedAt, endedAt: null, durationMs: 0 }, segments)).toBe(
      4000,
    );
  });
});
