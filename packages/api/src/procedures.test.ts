import { authUserOf, createSignInLimits, normalizeEnrollmentCode, sha256Hex, signIn } from "@rd/auth";
import { eq } from "drizzle-orm";
import { appendEvent, type DbHandle, EnrollmentCodes } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import type { AuthUser } from "@rd/auth";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import superjson from "superjson";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyTicket } from "@rd/auth/tickets";
import { appRouter, createCaller } from "./root.ts";
import { enrollAgent } from "./services/enrollment.ts";
import { createFixture, type Fixture } from "./test-fixture.ts";

const UNKNOWN_ID = "00000000-0000-4000-8000-000000000000";

describe.each(testDatabases())("API procedures on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;

  /** Calls a procedure through the real tRPC HTTP handler, as the dashboard's client does. */
  async function http(
    user: AuthUser | null,
    path: string,
    input: unknown,
    type: "query" | "mutation" = "query",
  ) {
    const body = JSON.stringify(superjson.serialize(input));
    const url = `http://localhost/api/trpc/${path}`;
    const req =
      type === "query"
        ? new Request(`${url}?input=${encodeURIComponent(body)}`)
        : new Request(url, { method: "POST", body, headers: { "content-type": "application/json" } });
    const res = await fetchRequestHandler({
      endpoint: "/api/trpc",
      req,
      router: appRouter,
      createContext: () => ({ db: f.db, auth: f.auth, user, ticketKey: f.ticketKey, secretBox: f.secretBox }),
    });
    const json = (await res.json()) as {
      error?: { json: { message: string; data: { code: string; issues: unknown } } };
    };
    return { status: res.status, error: json.error?.json };
  }

  /** A caller acting as a user tenant A's admin added, past their first sign-in's own password. */
  const callerOf = (user: { id: string; email: string; name: string; role: "admin" | "technician" }) =>
    createCaller({
      db: f.db,
      auth: f.auth,
      user: authUserOf({ ...user, tenantId: f.a.id, mustChangePassword: false }),
      ticketKey: f.ticketKey,
      secretBox: f.secretBox,
    });

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(() => handle?.close());

  describe("agents", () => {
    it("lists with status filter, search and pagination, online first", async () => {
      const all = await f.a.asTech.agents.list({});
      expect(all.items.map((x) => x.status)).toEqual(["online", "offline"]);
      expect(all.items[0]).not.toHaveProperty("credentialHash");
      expect((await f.a.asTech.agents.list({ status: "offline" })).items.map((x) => x.id)).toEqual([
        f.a.offlineAgent,
      ]);
      expect((await f.a.asTech.agents.list({ search: "LAPTOP" })).items.map((x) => x.id)).toEqual([
        f.a.offlineAgent,
      ]);
      expect((await f.a.asTech.agents.list({ search: "%" })).total).toBe(0); // LIKE wildcards are literal
      const page2 = await f.a.asTech.agents.list({ limit: 1, offset: 1 });
      expect(page2).toMatchObject({ total: 2, items: [{ id: f.a.offlineAgent }] });
    });

    it("shows one agent with its recent sessions", async () => {
      const agent = await f.a.asTech.agents.byId({ id: f.a.onlineAgent });
      expect(agent).toMatchObject({
        name: "Alpha-desk",
        hostname: "Alpha-desk.lan",
        consentPolicy: "prompt",
      });
      expect(agent.recentSessions.map((s) => s.id)).toContain(f.a.session.id);
    });

    it("renames (admins only) and records who did it", async () => {
      const renamed = await f.a.asAdmin.agents.rename({ id: f.a.offlineAgent, name: "  Reception PC  " });
      expect(renamed.name).toBe("Reception PC");
      const events = await f.a.asAdmin.events.byAgent({ agentId: f.a.offlineAgent });
      expect(events.items[0]).toMatchObject({
        type: "agent_renamed",
        actorId: f.a.admin.id,
        data: { to: "Reception PC" },
      });
      await expect(f.a.asTech.agents.rename({ id: f.a.offlineAgent, name: "x" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
    });

    it("creates single-use enrollment codes that expire", async () => {
      const { code, expiresAt } = await f.a.asAdmin.agents.createEnrollmentCode({
        label: "front desk",
        expiresInMinutes: 15,
      });
      expect(code).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      expect(expiresAt.getTime() - Date.now()).toBeGreaterThan(14 * 60_000);
      const info = { name: "pc", hostname: "pc.lan", os: "linux", version: "1" };
      // Typed in lower case with spaces: still the same code.
      expect(await enrollAgent(f.db, code.toLowerCase().replaceAll("-", " "), info)).toMatchObject({
        ok: true,
      });
      expect(await enrollAgent(f.db, code, info)).toMatchObject({
        ok: false,
        message: expect.stringMatching(/used already/),
      });
      const expired = await f.a.asAdmin.agents.createEnrollmentCode({});
      await f.db
        .update(EnrollmentCodes)
        .set({ expiresAt: new Date(Date.now() - 1) })
        .where(eq(EnrollmentCodes.codeHash, sha256Hex(normalizeEnrollmentCode(expired.code))));
      expect(await enrollAgent(f.db, expired.code, info)).toMatchObject({ ok: false });
      await expect(f.a.asTech.agents.createEnrollmentCode({})).rejects.toMatchObject({ code: "FORBIDDEN" });
    });

    it("records a refused code that exists (used, expired) in its tenant's trail, with the address", async () => {
      const { code } = await f.a.asAdmin.agents.createEnrollmentCode({});
      const info = { name: "pc", hostname: "reused.lan", os: "linux", version: "1" };
      expect(await enrollAgent(f.db, code, info, { ip: "192.0.2.44" })).toMatchObject({ ok: true });
      expect(await enrollAgent(f.db, code, info, { ip: "192.0.2.44" })).toMatchObject({
        ok: false,
        reason: "used",
      });
      expect(await enrollAgent(f.db, "ZZZZ-ZZZZ-ZZZZ-ZZZZ", info, { ip: "192.0.2.44" })).toMatchObject({
        ok: false,
        reason: "unknown", // no tenant to record it in: the dashboard logs it
      });
      const { items } = await f.a.asAdmin.events.byTenant({ types: ["enrollment_refused"], limit: 10 });
      expect(items.filter((e) => e.data.ip === "192.0.2.44")).toMatchObject([
        { data: { reason: "used", hostname: "reused.lan" } },
      ]);
      const other = await f.b.asAdmin.events.byTenant({ types: ["enrollment_refused"], limit: 10 });
      expect(other.items).toEqual([]);
    });

    it("removes softly: gone from lists, open sessions ended, history kept", async () => {
      const { code } = await f.b.asAdmin.agents.createEnrollmentCode({});
      const enrolled = await enrollAgent(f.db, code, {
        name: "temp",
        hostname: "temp",
        os: "linux",
        version: "1",
      });
      if (!enrolled.ok) throw new Error(enrolled.message);
      const { session } = await f.b.asTech.sessions.create({ agentId: enrolled.agentId });
      await f.b.asAdmin.agents.remove({ id: enrolled.agentId });
      await expect(f.b.asTech.agents.byId({ id: enrolled.agentId })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      const ended = await f.b.asTech.sessions.byId({ id: session.id });
      expect(ended).toMatchObject({ status: "ended", endReason: "agent_removed" });
      expect(ended.events.map((e) => e.type)).toEqual(["session_requested", "session_ended"]);
      expect(ended.participants.map((p) => p.leftReason)).toEqual(["session_over"]);
      await expect(f.b.asAdmin.agents.remove({ id: enrolled.agentId })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      expect((await f.b.asAdmin.events.verify()).ok).toBe(true);
    });
  });

  describe("sessions", () => {
    it("records a request with its event, lists and shows it, and ends it once", async () => {
      const { session, participantId, ticket, ticketExpiresAt } = await f.a.asTech.sessions.create({
        agentId: f.a.onlineAgent,
      });
      expect(session).toMatchObject({ status: "pending", technicianId: f.a.tech.id });
      // The ticket is scoped to this session, tenant, user and participation, and short-lived.
      const checked = await verifyTicket(f.ticketKey, ticket);
      expect(checked).toMatchObject({
        ok: true,
        claims: {
          sid: session.id,
          tid: f.a.id,
          uid: f.a.tech.id,
          pid: participantId,
          role: "technician",
          email: f.a.tech.email,
        },
      });
      expect(ticketExpiresAt.getTime() - Date.now()).toBeLessThanOrEqual(120_000);
      // A reload asks for a new ticket of the same participation.
      const again = await f.a.asTech.sessions.ticket({ id: session.id });
      expect(again.ticket).not.toBe(ticket);
      expect(again.participantId).toBe(participantId);
      await expect(f.a.asAdmin.sessions.ticket({ id: session.id })).rejects.toMatchObject({
        code: "FORBIDDEN",
        message: "You are not in this session. Join it to watch.",
      });
      const pending = await f.a.asTech.sessions.list({ status: "pending", agentId: f.a.onlineAgent });
      expect(pending.items.map((s) => s.id)).toContain(session.id);
      expect(pending.items[0]).toMatchObject({ agentName: "Alpha-desk", technicianName: "tech" });

      const ended = await f.a.asTech.sessions.end({ id: session.id });
      expect(ended).toMatchObject({ status: "ended", endReason: "ended_by_technician" });
      const detail = await f.a.asTech.sessions.byId({ id: session.id });
      expect(detail.events.map((e) => e.type)).toEqual(["session_requested", "session_ended"]);
      expect(await f.a.asTech.events.bySession({ sessionId: session.id })).toEqual(detail.events);

      await expect(f.a.asTech.sessions.end({ id: session.id })).rejects.toMatchObject({
        code: "CONFLICT",
        message: "A session that is ended cannot end.",
      });
      await expect(f.a.asTech.sessions.ticket({ id: session.id })).rejects.toMatchObject({
        code: "CONFLICT",
      });
    });

    it("lets another member of the tenant join as an observer, once, and leave", async () => {
      const { session, participantId: owner } = await f.a.asTech.sessions.create({
        agentId: f.a.onlineAgent,
      });
      const joined = await f.a.asAdmin.sessions.join({ id: session.id });
      expect(joined.participantId).not.toBe(owner);
      expect((await verifyTicket(f.ticketKey, joined.ticket)).ok).toBe(true);
      expect((await f.a.asAdmin.sessions.join({ id: session.id })).participantId).toBe(joined.participantId);
      const detail = await f.a.asAdmin.sessions.byId({ id: session.id });
      expect(detail.participants.map((p) => [p.id, p.leftAt])).toEqual([
        [owner, null],
        [joined.participantId, null],
      ]);
      expect(detail.myParticipantId).toBe(joined.participantId);
      expect(detail.events.map((e) => e.type)).toEqual(["session_requested", "participant_joined"]);
      // Another tenant's session does not exist for this caller.
      await expect(f.a.asAdmin.sessions.join({ id: f.b.session.id })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      expect(await f.a.asAdmin.sessions.leave({ id: session.id })).toEqual({ left: true });
      // The owner is still in it: the session goes on.
      expect((await f.a.asTech.sessions.byId({ id: session.id })).status).toBe("pending");
      await f.a.asTech.sessions.end({ id: session.id });
      await expect(f.a.asAdmin.sessions.join({ id: session.id })).rejects.toMatchObject({
        code: "CONFLICT",
        message: "This session has ended.",
      });
    });

    it("refuses a joiner once the session has as many observers as allowed", async () => {
      const { session } = await f.a.asTech.sessions.create({ agentId: f.a.onlineAgent });
      const strict = createCaller({
        db: f.db,
        auth: f.auth,
        user: f.a.admin,
        ticketKey: f.ticketKey,
        secretBox: f.secretBox,
        maxObservers: 0,
      });
      await expect(strict.sessions.join({ id: session.id })).rejects.toMatchObject({
        code: "CONFLICT",
        message: "This session already has 0 observers, the most it can have.",
      });
      await f.a.asTech.sessions.end({ id: session.id });
    });

    it("deactivating a user takes them out of their sessions, which end when nobody else can drive", async () => {
      const { user } = await f.a.asAdmin.users.create({ email: "leaver@alpha.example", name: "Leaver" });
      const leaver = callerOf(user);
      const { session } = await leaver.sessions.create({ agentId: f.a.onlineAgent });
      await f.a.asAdmin.users.setDisabled({ id: user.id, disabled: true });
      const after = await f.a.asAdmin.sessions.byId({ id: session.id });
      expect(after).toMatchObject({ status: "ended", endReason: "user_deactivated" });
      expect(after.participants[0]).toMatchObject({ leftReason: "user_deactivated" });
      expect((await f.a.asAdmin.events.verify()).ok).toBe(true);
    });

    it("lets a technician end only their own sessions, an admin any", async () => {
      const { session: other } = await f.a.asAdmin.sessions.create({ agentId: f.a.onlineAgent });
      await expect(f.a.asTech.sessions.end({ id: other.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
      const { session: mine } = await f.a.asTech.sessions.create({ agentId: f.a.onlineAgent });
      expect(await f.a.asAdmin.sessions.end({ id: mine.id })).toMatchObject({ endReason: "ended_by_admin" });
    });
  });

  describe("events", () => {
    it("pages the tenant timeline newest first with a cursor, and filters by type", async () => {
      const first = await f.a.asAdmin.events.byTenant({ limit: 3 });
      expect(first.items).toHaveLength(3);
      expect(first.items[0]!.seq).toBeGreaterThan(first.items[2]!.seq);
      const second = await f.a.asAdmin.events.byTenant({ limit: 3, before: first.nextCursor! });
      expect(second.items[0]!.seq).toBe(first.items[2]!.seq - 1);
      const enrolled = await f.a.asAdmin.events.byTenant({ types: ["agent_enrolled"], limit: 200 });
      expect(enrolled.items.every((e) => e.type === "agent_enrolled")).toBe(true);
      expect(enrolled.nextCursor).toBeNull();
      await expect(f.a.asTech.events.byTenant({})).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(f.a.asTech.events.verify()).rejects.toMatchObject({ code: "FORBIDDEN" });
    });
  });

  describe("users", () => {
    it("creates a technician with a one-time password that signs in", async () => {
      const { user, temporaryPassword } = await f.a.asAdmin.users.create({
        email: "New@Alpha.example",
        name: "New",
      });
      expect(user).toMatchObject({ email: "new@alpha.example", role: "technician", disabledAt: null });
      expect(user).not.toHaveProperty("passwordHash");
      const result = await signIn(f.db, createSignInLimits(), {
        email: user.email,
        password: temporaryPassword!,
        ip: "1",
      });
      expect(result).toMatchObject({ ok: true, userId: user.id, mustChangePassword: true });
      await expect(
        f.a.asAdmin.users.create({ email: "new@alpha.example", name: "Again" }),
      ).rejects.toMatchObject({
        code: "CONFLICT",
        message: "A user with the email new@alpha.example already exists.",
      });
    });

    it("deactivates a user and signs them out everywhere; never yourself", async () => {
      const { token } = await f.auth.createSession(f.a.tech.id);
      expect((await f.auth.validate(token)).user).not.toBeNull();
      await f.a.asAdmin.users.setDisabled({ id: f.a.tech.id, disabled: true });
      expect((await f.auth.validate(token)).user).toBeNull();
      await f.a.asAdmin.users.setDisabled({ id: f.a.tech.id, disabled: false });
      await expect(f.a.asAdmin.users.setDisabled({ id: f.a.admin.id, disabled: true })).rejects.toMatchObject(
        {
          code: "BAD_REQUEST",
          message: "You cannot deactivate your own account.",
        },
      );
      await expect(f.a.asTech.users.list()).rejects.toMatchObject({ code: "FORBIDDEN" });
    });

    it("changes a role in the admin's own workspace only, never their own, with an audit event", async () => {
      const { user } = await f.a.asAdmin.users.create({ email: "promoted@alpha.example", name: "Pro" });
      expect(await f.a.asAdmin.users.setRole({ id: user.id, role: "admin" })).toMatchObject({
        id: user.id,
        role: "admin",
      });
      const events = await f.a.asAdmin.events.byTenant({ types: ["user_role_changed"], limit: 10 });
      expect(events.items[0]).toMatchObject({
        type: "user_role_changed",
        actorId: f.a.admin.id,
        data: { userId: user.id, email: "promoted@alpha.example", from: "technician", to: "admin" },
      });
      // The same role again changes nothing and says nothing.
      await f.a.asAdmin.users.setRole({ id: user.id, role: "admin" });
      expect(
        (await f.a.asAdmin.events.byTenant({ types: ["user_role_changed"], limit: 10 })).items,
      ).toHaveLength(1);
      await f.a.asAdmin.users.setRole({ id: user.id, role: "technician" });

      await expect(f.a.asAdmin.users.setRole({ id: f.a.admin.id, role: "technician" })).rejects.toMatchObject(
        {
          code: "BAD_REQUEST",
          message: "You cannot change your own role. Another admin can.",
        },
      );
      await expect(f.b.asAdmin.users.setRole({ id: user.id, role: "admin" })).rejects.toMatchObject({
        code: "NOT_FOUND",
      });
      await expect(f.a.asTech.users.setRole({ id: user.id, role: "admin" })).rejects.toMatchObject({
        code: "FORBIDDEN",
      });
      expect((await f.a.asAdmin.users.list()).find((u) => u.id === user.id)?.role).toBe("technician");
    });
  });

  describe("two admins at once", () => {
    it("demoting each other leaves one admin, not none", async () => {
      const { user } = await f.a.asAdmin.users.create({
        email: "second-admin@alpha.example",
        name: "Second",
        role: "admin",
      });
      const second = callerOf(user);
      const results = await Promise.allSettled([
        f.a.asAdmin.users.setRole({ id: user.id, role: "technician" }),
        second.users.setRole({ id: f.a.admin.id, role: "technician" }),
      ]);
      expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(1);
      const refused = results.find((r) => r.status === "rejected");
      expect(refused?.reason).toMatchObject({
        code: "FORBIDDEN",
        message: "You are no longer an administrator of this workspace.",
      });
      const roles = new Map((await f.a.asAdmin.users.list()).map((u) => [u.id, u.role]));
      expect([roles.get(f.a.admin.id), roles.get(user.id)].sort()).toEqual(["admin", "technician"]);
      // As the other suites expect it: the fixture's admin an admin.
      if (roles.get(f.a.admin.id) !== "admin")
        await second.users.setRole({ id: f.a.admin.id, role: "admin" });
    });
  });

  describe("audit timelines", () => {
    it("name each event's actor: a user's name and email, an agent's name, or system", async () => {
      await appendEvent(f.db, {
        tenantId: f.a.id,
        agentId: f.a.onlineAgent,
        type: "agent_online",
        actor: { type: "agent", id: f.a.onlineAgent },
        data: {},
      });
      await appendEvent(f.db, {
        tenantId: f.a.id,
        type: "desk_expired",
        actor: { type: "system" },
        data: {},
      });
      await f.a.asAdmin.users.create({ email: "named@alpha.example", name: "Named" });
      const { items } = await f.a.asAdmin.events.byTenant({
        types: ["agent_online", "desk_expired", "user_created"],
        limit: 3,
      });
      const { name: agentName } = await f.a.asTech.agents.byId({ id: f.a.onlineAgent });
      expect(items.map((e) => [e.type, e.actorName, e.actorEmail])).toEqual([
        ["user_created", f.a.admin.name, f.a.admin.email],
        ["desk_expired", "system", null],
        ["agent_online", agentName, null],
      ]);
      const byAgent = await f.a.asTech.events.byAgent({ agentId: f.a.onlineAgent, limit: 1 });
      expect(byAgent.items[0]).toMatchObject({ type: "agent_online", actorName: agentName });
    });

    it("never names someone of another workspace, and takes an id that is no user's in its stride", async () => {
      for (const id of [f.b.admin.id, "not-a-uuid"])
        await appendEvent(f.db, {
          tenantId: f.a.id,
          type: "password_changed",
          actor: { type: "user", id },
          data: {},
        });
      const { items } = await f.a.asAdmin.events.byTenant({ types: ["password_changed"], limit: 2 });
      expect(items.map((e) => [e.actorName, e.actorEmail])).toEqual([
        ["an unknown user", null],
        ["an unknown user", null],
      ]);
    });
  });

  describe("over HTTP", () => {
    it("answers UNAUTHORIZED to every procedure without a session", async () => {
      // At runtime the router keeps a flat map of "router.procedure" paths.
      const flat = appRouter._def.procedures as unknown as Record<string, { _def: { type: string } }>;
      const procedures = Object.entries(flat);
      expect(procedures.length).toBeGreaterThanOrEqual(15);
      for (const [path, procedure] of procedures) {
        const type = procedure._def.type === "mutation" ? "mutation" : "query";
        const { status, error } = await http(null, path, {}, type);
        expect({ path, status, code: error?.data.code }).toEqual({ path, status: 401, code: "UNAUTHORIZED" });
        expect(error?.message).toBe("Sign in to continue.");
      }
    });

    it.each([
      ["agents.byId", { id: "nope" }, "Invalid input — id: Agent id must be a valid id"],
      ["agents.byId", { id: 42 }, "Invalid input — id: Agent id must be a valid id"],
      ["agents.byId", {}, "Invalid input — id: Agent id must be a valid id"],
      ["agents.list", { limit: 1000 }, "Invalid input — limit: Too big: expected number to be <=100"],
      [
        "agents.list",
        { search: "x".repeat(101) },
        "Invalid input — search: Search must be at most 100 characters",
      ],
      [
        "agents.list",
        { status: "sleeping" },
        'Invalid input — status: Invalid option: expected one of "online"|"offline"',
      ],
      ["sessions.list", { status: "weird" }, "Invalid input — status: Invalid option"],
      [
        "events.byAgent",
        { agentId: UNKNOWN_ID, before: -1 },
        "Invalid input — before: Too small: expected number to be >0",
      ],
    ])("rejects bad input to %s %j with a readable BAD_REQUEST", async (path, input, message) => {
      const { status, error } = await http(f.a.admin, path, input);
      expect(status).toBe(400);
      expect(error?.data.code).toBe("BAD_REQUEST");
      expect(error?.message.startsWith(message)).toBe(true);
      expect(error?.data.issues).toEqual(
        expect.arrayContaining([expect.objectContaining({ message: expect.any(String) })]),
      );
    });

    it.each([
      [
        "agents.rename",
        { id: UNKNOWN_ID, name: "x".repeat(101) },
        "Invalid input — name: Name must be at most 100 characters",
      ],
      ["agents.rename", { id: UNKNOWN_ID, name: "   " }, "Invalid input — name: Name is required"],
      [
        "users.create",
        { email: "not-an-email", name: "X" },
        "Invalid input — email: Enter a valid email address",
      ],
      [
        "users.create",
        { email: "a@b.example", name: "X", password: "short" },
        "Invalid input — password: Password must be at least 10 characters",
      ],
      [
        "users.create",
        { email: "a@b.example", name: "X", role: "root" },
        "Invalid input — role: Invalid option",
      ],
      ["agents.createEnrollmentCode", { expiresInMinutes: 1 }, "Invalid input — expiresInMinutes: Too small"],
      ["sessions.create", { agentId: null }, "Invalid input — agentId: Agent id must be a valid id"],
    ])("rejects bad input to mutation %s %j", async (path, input, message) => {
      const { status, error } = await http(f.a.admin, path, input, "mutation");
      expect({ status, code: error?.data.code }).toEqual({ status: 400, code: "BAD_REQUEST" });
      expect(error?.message.startsWith(message)).toBe(true);
    });

    it.each([
      ["agents.byId", { id: UNKNOWN_ID }, "query", "Agent was not found. It may have been removed."],
      ["sessions.byId", { id: UNKNOWN_ID }, "query", "Session was not found. It may have been removed."],
      [
        "sessions.create",
        { agentId: UNKNOWN_ID },
        "mutation",
        "Agent was not found. It may have been removed.",
      ],
      ["sessions.end", { id: UNKNOWN_ID }, "mutation", "Session was not found. It may have been removed."],
      [
        "users.setDisabled",
        { id: UNKNOWN_ID, disabled: true },
        "mutation",
        "User was not found. It may have been removed.",
      ],
    ] as const)("answers NOT_FOUND for an unknown id to %s", async (path, input, type, message) => {
      const { status, error } = await http(f.a.admin, path, input, type);
      expect({ status, code: error?.data.code, message: error?.message }).toEqual({
        status: 404,
        code: "NOT_FOUND",
        message,
      });
    });

    it("answers FORBIDDEN with a reason when a technician calls an admin procedure", async () => {
      const { status, error } = await http(f.a.tech, "users.list", undefined);
      expect({ status, message: error?.message }).toEqual({
        status: 403,
        message: "Only administrators can do this.",
      });
    });
  });
});
