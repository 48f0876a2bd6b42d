/**
 * Record and Stop from the live page, the agents' recording policy and the workspace's retention:
 * who may, what each policy allows, and that another tenant's session is NOT_FOUND.
 */
import { type DbHandle, Recordings, SessionEvents, Tenants } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../root.ts";
import { createFixture, type Fixture } from "../test-fixture.ts";
import type { Context } from "../trpc.ts";

describe.each(testDatabases())("recording controls on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;
  /** A caller whose server has recording set up (the fixture's has not). */
  const recordingAs = (user: Context["user"]) =>
    createCaller({
      db: f.db,
      auth: f.auth,
      user,
      ticketKey: f.ticketKey,
      secretBox: f.secretBox,
      recording: { storage: "local", newWrappedKey: () => "v1.iv.wrapped" },
    });

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(async () => {
    await handle?.close();
  });

  const codeOf = (promise: Promise<unknown>) =>
    promise.then(
      () => "ok",
      (error: { code?: string }) => error.code,
    );

  it("lets the people in the session record and stop, once at a time; others of the tenant may not, another tenant finds nothing", async () => {
    const sessionId = f.a.session.id;
    const tech = recordingAs(f.a.tech);
    expect(await tech.sessions.recording({ id: sessionId })).toMatchObject({
      policy: "choice",
      configured: true,
      latest: null,
    });
    // The fixture's caller has no recording configured: the server says so.
    expect(await codeOf(f.a.asTech.sessions.record({ id: sessionId }))).toBe("PRECONDITION_FAILED");
    const { recordingId } = await tech.sessions.record({ id: sessionId });
    expect(await codeOf(tech.sessions.record({ id: sessionId }))).toBe("CONFLICT");
    expect(await codeOf(recordingAs(f.b.admin).sessions.record({ id: sessionId }))).toBe("NOT_FOUND");
    expect(await codeOf(recordingAs(f.b.tech).sessions.stopRecording({ id: sessionId }))).toBe("NOT_FOUND");
    const started = await f.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.sessionId, sessionId), eq(SessionEvents.type, "recording_started")));
    expect(started[0]!.actorId).toBe(f.a.tech.id);
    // Nobody holds it (no recorder runs here), so Stop ends it at once.
    await tech.sessions.stopRecording({ id: sessionId });
    const [row] = await f.db.select().from(Recordings).where(eq(Recordings.id, recordingId));
    expect(row).toMatchObject({ state: "complete", stopReason: "stopped_by_user" });
    expect(await codeOf(tech.sessions.stopRecording({ id: sessionId }))).toBe("CONFLICT");
  });

  it("refuses Record on a machine whose policy is never, and only admins set the policy", async () => {
    expect(await codeOf(f.a.asTech.agents.setRecordingPolicy({ id: f.a.onlineAgent, policy: "never" }))).toBe(
      "FORBIDDEN",
    );
    expect(
      await codeOf(f.b.asAdmin.agents.setRecordingPolicy({ id: f.a.onlineAgent, policy: "never" })),
    ).toBe("NOT_FOUND");
    const agent = await f.a.asAdmin.agents.setRecordingPolicy({ id: f.a.onlineAgent, policy: "never" });
    expect(agent.recordingPolicy).toBe("never");
    const { session } = await f.a.asTech.sessions.create({ agentId: f.a.onlineAgent });
    // The agent accepted: the session is live.
    await f.db.execute(sql`update remote_sessions set status = 'active' where id = ${session.id}`);
    const failure = await recordingAs(f.a.tech)
      .sessions.record({ id: session.id })
      .catch((error: Error) => error.message);
    expect(failure).toMatch(/never/);
    await f.a.asAdmin.agents.setRecordingPolicy({ id: f.a.onlineAgent, policy: "choice" });
  });

  it("sets the workspace's retention, admins only, within 1–3650 days, with an event", async () => {
    expect(await codeOf(f.a.asTech.users.setRecordingRetention({ days: 7 }))).toBe("FORBIDDEN");
    expect(await codeOf(f.a.asAdmin.users.setRecordingRetention({ days: 0 }))).toBe("BAD_REQUEST");
    expect(await codeOf(f.a.asAdmin.users.setRecordingRetention({ days: 4000 }))).toBe("BAD_REQUEST");
    await f.a.asAdmin.users.setRecordingRetention({ days: 7 });
    const [tenant] = await f.db.select().from(Tenants).where(eq(Tenants.id, f.a.id));
    expect(tenant!.recordingRetentionDays).toBe(7);
    expect((await f.a.asAdmin.users.policy()).recordingRetentionDays).toBe(7);
    const [event] = await f.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, f.a.id), eq(SessionEvents.type, "recording_retention_changed")));
    expect(event!.data).toEqual({ from: 30, to: 7 });
  });
});
