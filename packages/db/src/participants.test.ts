import { and, asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DbHandle } from "./client.ts";
import type { ControlNotice } from "./control-feed.ts";
import {
  answerParticipant,
  changeControl,
  IllegalControlChange,
  joinSession,
  JoinRefused,
  leaveSession,
  participantConnected,
  participantDisconnected,
  participantsSnapshot,
  revokeUser,
  sweepInterrupted,
  touchSessionAgents,
} from "./participants.ts";
import { Agents, RemoteSessions, SessionEvents, SessionParticipants, Tenants, Users } from "./schema.ts";
import { transitionSession } from "./sessions.ts";
import { collectControlNotices, testDatabases } from "./testing.ts";

describe.each(testDatabases())("participants and control on $name", (backend) => {
  let handle: DbHandle;
  let tenantId: string;
  let owner: string;
  let observer: string;
  let third: string;
  let agentId: string;
  let notices: ControlNotice[] = [];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    handle = await backend.create();
    const [tenant] = await handle.db.insert(Tenants).values({ name: "Acme" }).returning();
    tenantId = tenant!.id;
    const user = async (email: string) =>
      (
        await handle.db
          .insert(Users)
          .values({ tenantId, email, name: email.split("@")[0]!, role: "technician", passwordHash: "x" })
          .returning()
      )[0]!.id;
    owner = await user("owner@acme.example");
    observer = await user("observer@acme.example");
    third = await user("third@acme.example");
    const [agent] = await handle.db
      .insert(Agents)
      .values({ tenantId, name: "desk", hostname: "desk", os: "linux", version: "1", credentialHash: "x" })
      .returning();
    agentId = agent!.id;
    ({ notices, stop: unlisten } = await collectControlNotices(handle));
  });
  afterAll(async () => {
    await unlisten?.();
    await handle?.close();
  });

  const system = { type: "system" as const };

  /** A session opened by `owner`, already active (the agent accepted). */
  async function liveSession() {
    const [session] = await handle.db
      .insert(RemoteSessions)
      .values({ tenantId, agentId, technicianId: owner })
      .returning();
    const opener = await joinSession(handle.db, {
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
    return { sessionId: session!.id, opener: opener.id };
  }

  async function admittedObserver(sessionId: string, userId = observer) {
    const row = await joinSession(handle.db, { tenantId, sessionId, userId, actor: system });
    await answerParticipant(handle.db, { sessionId, agentId, participantId: row.id, answer: "admit" });
    return row.id;
  }

  const session = async (id: string) =>
    (await handle.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, id)))[0]!;
  const events = async (sessionId: string) =>
    (
      await handle.db
        .select({ type: SessionEvents.type, data: SessionEvents.data })
        .from(SessionEvents)
        .where(eq(SessionEvents.sessionId, sessionId))
        .orderBy(asc(SessionEvents.seq))
    ).map((e) => e.type);
  const until = async (check: () => boolean) => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    return check();
  };

  it("admits the opener with the session; a later joiner waits for the agent, once per person", async () => {
    const { sessionId, opener } = await liveSession();
    const first = await joinSession(handle.db, { tenantId, sessionId, userId: observer, actor: system });
    const again = await joinSession(handle.db, { tenantId, sessionId, userId: observer, actor: system });
    expect(again.id).toBe(first.id);
    const snapshot = await participantsSnapshot(handle.db, sessionId);
    expect(snapshot!.participants.map((p) => [p.id, p.owner, p.admitted])).toEqual([
      [opener, true, true],
      [first.id, false, false],
    ]);
    expect(await events(sessionId)).toEqual(["session_started", "participant_joined"]);
  });

  it("refuses a joiner beyond the observer limit, and any joiner once the session is over", async () => {
    const { sessionId } = await liveSession();
    await joinSession(handle.db, { tenantId, sessionId, userId: observer, actor: system, maxObservers: 1 });
    await expect(
      joinSession(handle.db, { tenantId, sessionId, userId: third, actor: system, maxObservers: 1 }),
    ).rejects.toThrow(/already has 1 observers/);
    await transitionSession(handle.db, { tenantId, sessionId, transition: "end", actor: system });
    await expect(
      joinSession(handle.db, { tenantId, sessionId, userId: third, actor: system }),
    ).rejects.toThrow(JoinRefused);
  });

  it("moves control by the table and records each change", async () => {
    const { sessionId, opener } = await liveSession();
    const obs = await admittedObserver(sessionId);
    // The opener drives from the start; given up, asked for again with nobody in control, it is
    // the opener's at once.
    expect((await session(sessionId)).controllerId).toBe(opener);
    await changeControl(handle.db, { sessionId, by: opener, action: "release", byAdmin: false });
    expect(
      await changeControl(handle.db, { sessionId, by: opener, action: "request", byAdmin: false }),
    ).toEqual({ controllerId: opener });
    await changeControl(handle.db, { sessionId, by: obs, action: "request", byAdmin: false });
    expect((await participantsSnapshot(handle.db, sessionId))!.participants[1]!.requestingControl).toBe(true);
    await changeControl(handle.db, { sessionId, by: opener, action: "grant", to: obs, byAdmin: false });
    expect((await session(sessionId)).controllerId).toBe(obs);
    // The observer may not take it back; the owner may.
    await expect(
      changeControl(handle.db, { sessionId, by: obs, action: "take", byAdmin: false }),
    ).rejects.toThrow(IllegalControlChange);
    await changeControl(handle.db, { sessionId, by: opener, action: "take", byAdmin: false });
    await changeControl(handle.db, { sessionId, by: opener, action: "release", byAdmin: false });
    expect((await session(sessionId)).controllerId).toBeNull();
    expect((await events(sessionId)).slice(3)).toEqual([
      "control_released",
      "control_granted",
      "control_requested",
      "control_granted",
      "control_taken",
      "control_released",
    ]);
  });

  it("goes on when an observer or the owner leaves, and ends when the last driver leaves", async () => {
    const { sessionId, opener } = await liveSession();
    const obs = await admittedObserver(sessionId);
    await leaveSession(handle.db, { participantId: opener, reason: "left", actor: system });
    const after = await session(sessionId);
    expect(after).toMatchObject({ status: "active", controllerId: null });
    await leaveSession(handle.db, { participantId: obs, reason: "disconnected", actor: system });
    expect(await session(sessionId)).toMatchObject({ status: "ended", endReason: "viewer_left" });
    const types = await events(sessionId);
    expect(types.filter((t) => t === "participant_left")).toHaveLength(2);
    expect(types).toContain("control_released");
    expect(types.at(-1)).toBe("session_ended");
  });

  it("a refusal at the machine takes the joiner out with the reason", async () => {
    const { sessionId } = await liveSession();
    const joiner = await joinSession(handle.db, { tenantId, sessionId, userId: observer, actor: system });
    await answerParticipant(handle.db, {
      sessionId,
      agentId,
      participantId: joiner.id,
      answer: "denied_by_user",
    });
    const [row] = await handle.db
      .select()
      .from(SessionParticipants)
      .where(eq(SessionParticipants.id, joiner.id));
    expect(row).toMatchObject({ leftReason: "denied_by_user" });
    expect((await events(sessionId)).at(-1)).toBe("participant_refused");
    expect((await session(sessionId)).status).toBe("active");
  });

  it("ending the session takes everyone out and clears control", async () => {
    const { sessionId } = await liveSession();
    await admittedObserver(sessionId);
    await transitionSession(handle.db, { tenantId, sessionId, transition: "end", actor: system });
    expect((await session(sessionId)).controllerId).toBeNull();
    const open = await handle.db
      .select()
      .from(SessionParticipants)
      .where(and(eq(SessionParticipants.sessionId, sessionId)));
    expect(open.map((p) => p.leftReason)).toEqual(["session_over", "session_over"]);
  });

  it("counts a reconnect's old connection closing as nothing", async () => {
    const { sessionId, opener } = await liveSession();
    await participantConnected(handle.db, { participantId: opener, peer: "page-one-1" });
    await participantConnected(handle.db, { participantId: opener, peer: "page-two-2" });
    await participantDisconnected(handle.db, { participantId: opener, peer: "page-one-1" });
    expect((await participantsSnapshot(handle.db, sessionId))!.participants[0]).toMatchObject({
      connected: true,
      peer: "page-two-2",
    });
    // A signaling blip: away, the same page (its peer may still carry the picture).
    await participantDisconnected(handle.db, { participantId: opener, peer: "page-two-2" });
    expect((await participantsSnapshot(handle.db, sessionId))!.participants[0]).toMatchObject({
      connected: false,
      peer: "page-two-2",
    });
    // The page closed: its peer is gone too.
    await participantConnected(handle.db, { participantId: opener, peer: "page-two-2" });
    await participantDisconnected(handle.db, { participantId: opener, peer: "page-two-2", pageClosed: true });
    expect((await participantsSnapshot(handle.db, sessionId))!.participants[0]).toMatchObject({
      connected: false,
      peer: null,
    });
  });

  it("announces every committed change on the control feed, and none that rolled back", async () => {
    notices.length = 0;
    const { sessionId } = await liveSession();
    expect(await until(() => notices.some((n) => n.kind === "session" && n.sessionId === sessionId))).toBe(
      true,
    );
    expect(notices.find((n) => n.kind === "session")).toMatchObject({ status: "active", agentId });
    notices.length = 0;
    await handle.db
      .transaction(async (tx) => {
        await transitionSession(tx, { tenantId, sessionId, transition: "end", actor: system });
        throw new Error("roll back");
      })
      .catch(() => {});
    await new Promise((r) => setTimeout(r, 200));
    expect(notices).toEqual([]);
    expect((await session(sessionId)).status).toBe("active");
  });

  it("a deactivated user leaves every session; the last driver's leaving ends it", async () => {
    notices.length = 0;
    const { sessionId } = await liveSession();
    await revokeUser(handle.db, { userId: owner, actor: system });
    expect(await session(sessionId)).toMatchObject({ status: "ended", endReason: "user_deactivated" });
    expect(await until(() => notices.some((n) => n.kind === "user-revoked" && n.userId === owner))).toBe(
      true,
    );
  });

  it("sweeps a session whose agent nobody has seen as interrupted", async () => {
    const { sessionId } = await liveSession();
    await touchSessionAgents(handle.db, [sessionId]);
    await sweepInterrupted(handle.db, new Date(Date.now() - 60_000));
    expect((await session(sessionId)).status).toBe("active");
    await sweepInterrupted(handle.db, new Date(Date.now() + 1000));
    expect(await session(sessionId)).toMatchObject({ status: "ended", endReason: "interrupted" });
  });
});
