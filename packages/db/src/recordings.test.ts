import { and, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyChain } from "./audit.ts";
import type { DbHandle } from "./client.ts";
import { joinAsRecorder, joinSession, participantsSnapshot } from "./participants.ts";
import {
  addSegment,
  claimRecording,
  expiredRecordings,
  finishRecording,
  markRecordingDeleted,
  RECORDER_LEASE_MS,
  RecordingRefused,
  renewRecording,
  requestStop,
  sessionsOwedRecording,
  startRecording,
  sweepOrphanRecordings,
} from "./recordings.ts";
import {
  Agents,
  Recordings,
  RemoteSessions,
  SessionEvents,
  SessionParticipants,
  Tenants,
  Users,
} from "./schema.ts";
import { transitionSession } from "./sessions.ts";
import { testDatabases } from "./testing.ts";

describe.each(testDatabases())("recordings on $name", (backend) => {
  let handle: DbHandle;
  let tenantId: string;
  let owner: string;
  const system = { type: "system" as const };

  beforeAll(async () => {
    handle = await backend.create();
    const [tenant] = await handle.db.insert(Tenants).values({ name: "Acme" }).returning();
    tenantId = tenant!.id;
    const [user] = await handle.db
      .insert(Users)
      .values({
        tenantId,
        email: `owner-${Date.now()}@acme.example`,
        name: "Owner",
        role: "technician",
        passwordHash: "x",
      })
      .returning();
    owner = user!.id;
  });
  afterAll(async () => {
    await handle?.close();
  });

  async function liveSession(policy: "never" | "always" | "choice" = "choice") {
    const [agent] = await handle.db
      .insert(Agents)
      .values({
        tenantId,
        name: "desk",
        hostname: "desk",
        os: "linux",
        version: "1",
        credentialHash: "x",
        recordingPolicy: policy,
      })
      .returning();
    const [session] = await handle.db
      .insert(RemoteSessions)
      .values({ tenantId, agentId: agent!.id, technicianId: owner })
      .returning();
    await joinSession(handle.db, {
      tenantId,
      sessionId: session!.id,
      userId: owner,
      actor: system,
      opener: true,
    });
    await transitionSession(handle.db, {
      tenantId,
      sessionId: session!.id,
      transition: "start",
      actor: system,
    });
    return session!.id;
  }

  const start = (sessionId: string, startedBy: string | null = owner) =>
    startRecording(handle.db, {
      id: crypto.randomUUID(),
      tenantId,
      sessionId,
      startedBy,
      storage: "local",
      wrappedKey: "v1.x.y",
    });

  const events = async (sessionId: string) =>
    handle.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, tenantId), eq(SessionEvents.sessionId, sessionId)))
      .orderBy(SessionEvents.seq);

  it("starts one recording per session, refuses a machine whose policy is never, and audits the start", async () => {
    const sessionId = await liveSession();
    const recording = await start(sessionId);
    expect(recording.state).toBe("recording");
    await expect(start(sessionId)).rejects.toThrow(RecordingRefused);
    const never = await liveSession("never");
    await expect(start(never)).rejects.toThrow(/never/);
    const started = (await events(sessionId)).find((e) => e.type === "recording_started")!;
    expect(started.data).toMatchObject({ recordingId: recording.id, policy: "choice" });
    expect(started.actorId).toBe(owner);
    await finishRecording(handle.db, { recordingId: recording.id, state: "complete", reason: "test" });
  });

  it("lets one recorder claim a recording, renews its lease, and hands a lapsed one to another", async () => {
    const sessionId = await liveSession();
    const recording = await start(sessionId);
    const first = await claimRecording(handle.db, { holder: "one", tenantId });
    expect(first?.id).toBe(recording.id);
    expect(await claimRecording(handle.db, { holder: "two", tenantId })).toBeNull();
    expect(await renewRecording(handle.db, { recordingId: recording.id, holder: "one" })).toEqual({
      stopRequested: false,
    });
    expect(await renewRecording(handle.db, { recordingId: recording.id, holder: "two" })).toBeNull();
    const later = new Date(Date.now() + RECORDER_LEASE_MS + 1000);
    expect((await claimRecording(handle.db, { holder: "two", now: later, tenantId }))?.id).toBe(recording.id);
    await finishRecording(handle.db, { recordingId: recording.id, state: "complete", reason: "test" });
  });

  it("joins the recorder as a participant everyone sees, never able to drive", async () => {
    const sessionId = await liveSession();
    const recording = await start(sessionId);
    const recorder = await joinAsRecorder(handle.db, { tenantId, sessionId, recordingId: recording.id });
    const again = await joinAsRecorder(handle.db, {
      tenantId,
      sessionId,
      recordingId: recording.id,
      participantId: recorder.id,
    });
    expect(again.id).toBe(recorder.id);
    const snapshot = await participantsSnapshot(handle.db, sessionId);
    const view = snapshot!.participants.find((p) => p.id === recorder.id)!;
    expect(view).toMatchObject({ kind: "recorder", admitted: true, name: "Recorder" });
    await handle.db
      .update(Recordings)
      .set({ participantId: recorder.id })
      .where(eq(Recordings.id, recording.id));
    // Ending the recording takes the recorder out; the session goes on.
    expect(
      await finishRecording(handle.db, {
        recordingId: recording.id,
        state: "failed",
        reason: "store_failed: full",
      }),
    ).toBe(true);
    expect(
      await finishRecording(handle.db, { recordingId: recording.id, state: "complete", reason: "again" }),
    ).toBe(false);
    const [left] = await handle.db
      .select()
      .from(SessionParticipants)
      .where(eq(SessionParticipants.id, recorder.id));
    expect(left!.leftAt).not.toBeNull();
    const [session] = await handle.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, sessionId));
    expect(session!.status).toBe("active");
    const stopped = (await events(sessionId)).find((e) => e.type === "recording_stopped")!;
    expect(stopped.data).toMatchObject({ state: "failed", reason: "store_failed: full" });
  });

  it("puts every segment's hash in the audit chain, in order, and keeps the totals", async () => {
    const sessionId = await liveSession();
    const recording = await start(sessionId);
    for (const seq of [1, 2]) {
      await addSegment(handle.db, recording, {
        seq,
        startMs: (seq - 1) * 4000,
        durationMs: 4000,
        gapBeforeMs: 0,
        bytes: 1000,
        sha256: `${seq}`.repeat(64),
        keyframe: true,
        activity: [[seq, 500, 1, 2]],
        codec: "h264",
      });
    }
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, recording.id));
    expect(row).toMatchObject({ segmentCount: 2, bytes: 2000, durationMs: 8000, codec: "h264" });
    const segments = (await events(sessionId)).filter((e) => e.type === "recording_segment");
    expect(segments.map((e) => e.data.seq)).toEqual([1, 2]);
    expect(segments[0]!.data.sha256).toBe("1".repeat(64));
    expect((await verifyChain(handle.db, tenantId)).ok).toBe(true);
    await finishRecording(handle.db, { recordingId: recording.id, state: "complete", reason: "test" });
  });

  it("stops on request: a held recording is flagged for its holder, an unheld one ends at once; never on always", async () => {
    const held = await start(await liveSession());
    await claimRecording(handle.db, { holder: "h", tenantId });
    await requestStop(handle.db, { tenantId, recordingId: held.id, userId: owner });
    expect(await renewRecording(handle.db, { recordingId: held.id, holder: "h" })).toEqual({
      stopRequested: true,
    });
    // The holder ends it; the stop is the person's who asked for it.
    await finishRecording(handle.db, { recordingId: held.id, state: "complete", reason: "stopped_by_user" });
    const stopped = (await events(held.sessionId)).find((e) => e.type === "recording_stopped")!;
    expect(stopped).toMatchObject({ actorType: "user", actorId: owner });

    const unheld = await start(await liveSession());
    await requestStop(handle.db, { tenantId, recordingId: unheld.id, userId: owner });
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, unheld.id));
    expect(row).toMatchObject({ state: "complete", stopReason: "stopped_by_user" });

    const always = await start(await liveSession("always"), null);
    await expect(requestStop(handle.db, { tenantId, recordingId: always.id, userId: owner })).rejects.toThrow(
      /always/,
    );
    await finishRecording(handle.db, { recordingId: always.id, state: "complete", reason: "test" });
  });

  it("owes a recording to live sessions of 'always' machines, and ends recordings orphaned with their session", async () => {
    const owed = await liveSession("always");
    const notOwed = await liveSession("choice");
    expect((await sessionsOwedRecording(handle.db)).map((s) => s.id)).toContain(owed);
    // Asked about the sessions that just turned active: those of them it owes, and no other.
    expect((await sessionsOwedRecording(handle.db, [owed, notOwed])).map((s) => s.id)).toEqual([owed]);
    expect(await sessionsOwedRecording(handle.db, [notOwed])).toEqual([]);
    expect(await sessionsOwedRecording(handle.db, [])).toEqual([]);
    const orphan = await start(owed, null);
    expect((await sessionsOwedRecording(handle.db)).map((s) => s.id)).not.toContain(owed);
    await transitionSession(handle.db, {
      tenantId,
      sessionId: owed,
      transition: "end",
      actor: system,
      reason: "ended_by_technician",
    });
    expect(await sweepOrphanRecordings(handle.db)).toBeGreaterThanOrEqual(1);
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, orphan.id));
    expect(row).toMatchObject({ state: "incomplete", stopReason: "recorder_lost" });
  });

  it("finds recordings past the tenant's retention and marks them deleted with an event", async () => {
    const recording = await start(await liveSession());
    await finishRecording(handle.db, { recordingId: recording.id, state: "complete", reason: "test" });
    await handle.db.update(Tenants).set({ recordingRetentionDays: 7 }).where(eq(Tenants.id, tenantId));
    expect((await expiredRecordings(handle.db, new Date())).map((r) => r.id)).not.toContain(recording.id);
    const later = new Date(Date.now() + 8 * 86_400_000);
    const expired = await expiredRecordings(handle.db, later);
    expect(expired.map((r) => r.id)).toContain(recording.id);
    await markRecordingDeleted(
      handle.db,
      expired.find((r) => r.id === recording.id)!,
      7,
    );
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, recording.id));
    expect(row!.state).toBe("deleted");
    const deleted = (await events(recording.sessionId)).find((e) => e.type === "recording_deleted")!;
    expect(deleted.data).toMatchObject({ recordingId: recording.id, retentionDays: 7 });
    expect((await expiredRecordings(handle.db, later)).map((r) => r.id)).not.toContain(recording.id);
  });
});
