import { Agents, type DbHandle, RemoteSessions, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { resolveLink } from "./services/desk-links.ts";
import { enrollAgent } from "./services/enrollment.ts";
import { createFixture, type Fixture } from "./test-fixture.ts";

const notFound = { code: "NOT_FOUND" };

describe.each(testDatabases())("tenant isolation on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(() => handle?.close());

  it("lists only the caller's own agents, sessions, events and users", async () => {
    for (const caller of [f.a.asTech, f.a.asAdmin]) {
      const agents = await caller.agents.list({});
      expect(agents.total).toBe(2);
      expect(agents.items.map((x) => x.id).sort()).toEqual([f.a.onlineAgent, f.a.offlineAgent].sort());
      const sessions = await caller.sessions.list({});
      expect(sessions.items.map((s) => s.id)).toEqual([f.a.session.id]);
    }
    const events = await f.a.asAdmin.events.byTenant({ limit: 200 });
    expect(events.items.length).toBeGreaterThan(0);
    expect(events.items.every((e) => e.tenantId === f.a.id)).toBe(true);
    const users = await f.a.asAdmin.users.list();
    expect(users.map((u) => u.id).sort()).toEqual([f.a.admin.id, f.a.tech.id].sort());
    const verified = await f.a.asAdmin.events.verify();
    expect(verified).toMatchObject({ ok: true, checked: events.items.length });
  });

  it("cannot read another tenant's agent, session or their events", async () => {
    await expect(f.a.asTech.agents.byId({ id: f.b.onlineAgent })).rejects.toMatchObject(notFound);
    await expect(f.a.asTech.sessions.byId({ id: f.b.session.id })).rejects.toMatchObject(notFound);
    await expect(f.a.asTech.events.bySession({ sessionId: f.b.session.id })).rejects.toMatchObject(notFound);
    await expect(f.a.asTech.events.byAgent({ agentId: f.b.onlineAgent })).rejects.toMatchObject(notFound);
    await expect(f.a.asTech.sessions.list({ agentId: f.b.onlineAgent })).resolves.toEqual({
      items: [],
      total: 0,
    });
  });

  it("cannot open, end, rename or remove anything of another tenant", async () => {
    await expect(f.a.asTech.sessions.create({ agentId: f.b.onlineAgent })).rejects.toMatchObject(notFound);
    await expect(f.a.asAdmin.sessions.end({ id: f.b.session.id })).rejects.toMatchObject(notFound);
    await expect(f.a.asAdmin.agents.rename({ id: f.b.onlineAgent, name: "pwned" })).rejects.toMatchObject(
      notFound,
    );
    await expect(f.a.asAdmin.agents.remove({ id: f.b.onlineAgent })).rejects.toMatchObject(notFound);
    await expect(f.a.asAdmin.users.setDisabled({ id: f.b.tech.id, disabled: true })).rejects.toMatchObject(
      notFound,
    );

    const [agent] = await f.db.select().from(Agents).where(eq(Agents.id, f.b.onlineAgent));
    expect(agent).toMatchObject({ name: "Beta-desk", removedAt: null });
    const [session] = await f.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, f.b.session.id));
    expect(session!.status).toBe("pending");
    const [user] = await f.db.select().from(Users).where(eq(Users.id, f.b.tech.id));
    expect(user!.disabledAt).toBeNull();
    expect((await f.b.asAdmin.events.verify()).ok).toBe(true);
  });

  it("cannot see, extend, terminate or touch the links of another tenant's desk", async () => {
    const { desk, link, token } = await f.a.asTech.desks.create({ candidateLabel: "Alpha candidate" });
    for (const caller of [f.b.asTech, f.b.asAdmin]) {
      expect(await caller.desks.list({})).toEqual({ items: [], total: 0, warm: 0 });
      await expect(caller.desks.byId({ id: desk.id })).rejects.toMatchObject(notFound);
      await expect(caller.desks.watch({ id: desk.id })).rejects.toMatchObject(notFound);
      await expect(caller.desks.extend({ id: desk.id, minutes: 10 })).rejects.toMatchObject(notFound);
      await expect(caller.desks.terminate({ id: desk.id })).rejects.toMatchObject(notFound);
      await expect(caller.desks.links.revoke({ id: link.id })).rejects.toMatchObject(notFound);
      await expect(caller.desks.links.rotate({ id: link.id })).rejects.toMatchObject(notFound);
    }
    const after = await f.a.asTech.desks.byId({ id: desk.id });
    expect(after).toMatchObject({ state: "pending", expiresAt: desk.expiresAt });
    expect(after.links).toMatchObject([{ id: link.id, revokedAt: null }]);
    expect(after.events.map((e) => e.type)).toEqual(["desk_created"]);
    // The link leads into its own tenant only.
    const resolved = await resolveLink(f.db, token);
    expect(resolved).toMatchObject({ ok: true, desk: { id: desk.id, tenantId: f.a.id } });
    const bEvents = await f.b.asAdmin.events.byTenant({ limit: 200 });
    expect(bEvents.items.some((e) => e.data.deskId === desk.id)).toBe(false);
    expect((await f.b.asAdmin.events.verify()).ok).toBe(true);
  });

  it("enrolls an agent into the tenant whose admin created the code", async () => {
    const { code } = await f.a.asAdmin.agents.createEnrollmentCode({});
    const result = await enrollAgent(f.db, code, {
      name: "new",
      hostname: "new.lan",
      os: "linux",
      version: "1",
    });
    expect(result).toMatchObject({ ok: true, tenantId: f.a.id });
    expect((await f.b.asTech.agents.list({ search: "new.lan" })).total).toBe(0);
  });

  it("keeps another tenant's events out of this tenant's chain", async () => {
    const before = await f.b.asAdmin.events.verify();
    await f.a.asTech.sessions.create({ agentId: f.a.onlineAgent });
    const after = await f.b.asAdmin.events.verify();
    expect(after).toEqual(before);
  });
});
