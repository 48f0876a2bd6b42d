/**
 * GET /audit/export on a real (PGlite) database: the streamed download verifies offline; only a
 * signed-in admin gets it, only for their own tenant's ids. The app's composition root needs
 * SvelteKit's environment, so `getApp` is the one part replaced: it hands over the test database.
 */
import type { AuthUser } from "@rd/auth";
import {
  Agents,
  appendEvent,
  AuditHeadSigner,
  createDb,
  type DbHandle,
  RemoteSessions,
  Tenants,
  Users,
  verifyExport,
} from "@rd/db";
import { createTestSigningKey } from "@rd/db/testing";
import { isHttpError, isRedirect } from "@sveltejs/kit";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";

const app = vi.hoisted(() => ({
  database: null as unknown,
  auditSigning: null as unknown as { signNow(tenantId: string): Promise<void> },
}));
vi.mock("$lib/server/app.ts", () => ({ getApp: () => app }));

const { GET } = await import("./+server.ts");

describe("GET /audit/export", () => {
  let handle: DbHandle;
  let admin: AuthUser;
  let tech: AuthUser;
  let sessionId: string;
  let otherSessionId: string;
  let signer: AuditHeadSigner | undefined;

  const userOf = (row: typeof Users.$inferSelect): AuthUser => ({
    id: row.id,
    tenantId: row.tenantId,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: false,
    mustChangePassword: false,
    twoFactorEnabled: false,
    gate: null,
  });

  beforeAll(async () => {
    handle = createDb({ dataDir: "memory://" });
    await handle.migrate();
    app.database = handle;
    const [tenant, other] = await handle.db
      .insert(Tenants)
      .values([{ name: "Acme" }, { name: "Other" }])
      .returning();
    const users = await handle.db
      .insert(Users)
      .values([
        {
          tenantId: tenant!.id,
          email: "admin@acme.example",
          name: "admin",
          role: "admin",
          passwordHash: "x",
        },
        {
          tenantId: tenant!.id,
          email: "tech@acme.example",
          name: "tech",
          role: "technician",
          passwordHash: "x",
        },
        {
          tenantId: other!.id,
          email: "tech@other.example",
          name: "t",
          role: "technician",
          passwordHash: "x",
        },
      ])
      .returning();
    admin = userOf(users[0]!);
    tech = userOf(users[1]!);
    const session = async (tenantId: string, technicianId: string) => {
      const [agent] = await handle.db
        .insert(Agents)
        .values({ tenantId, name: "pc", hostname: "pc", os: "linux", version: "1", credentialHash: "x" })
        .returning();
      const [row] = await handle.db
        .insert(RemoteSessions)
        .values({ tenantId, agentId: agent!.id, technicianId })
        .returning();
      return row!.id;
    };
    sessionId = await session(tenant!.id, tech.id);
    otherSessionId = await session(other!.id, users[2]!.id);
    for (const type of ["session_requested", "session_started", "session_ended"]) {
      await appendEvent(handle.db, { tenantId: tenant!.id, type, actor: { type: "system" }, sessionId });
    }
    // No head is signed yet: the route signs the chain's head before it exports.
    const key = await createTestSigningKey();
    signer = new AuditHeadSigner({ db: handle.db, key, log: { info() {}, warn() {}, error() {} } });
    await signer.start(); // registers its public key
    app.auditSigning = { signNow: async (tenantId) => void (await signer!.signHeadOf(tenantId)) };
  });
  afterAll(async () => {
    await signer?.stop();
    await handle?.close();
  });

  const get = (user: AuthUser | null, query: string) =>
    GET({ locals: { user }, url: new URL(`http://localhost/audit/export?${query}`) } as never);
  /** What GET threw: a redirect or an HTTP error with its status and message. */
  const refusal = async (user: AuthUser | null, query: string) => {
    try {
      await get(user, query);
    } catch (thrown) {
      if (isRedirect(thrown)) return { status: thrown.status, location: thrown.location };
      if (isHttpError(thrown)) return { status: thrown.status, message: thrown.body.message };
      throw thrown;
    }
    throw new Error("expected a refusal");
  };

  it("streams the session's export as an ndjson attachment that verifies offline", async () => {
    const response = await get(admin, `scope=session&id=${sessionId}`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/x-ndjson; charset=utf-8");
    expect(response.headers.get("content-disposition")).toMatch(
      /^attachment; filename="audit-session-[0-9a-f]{8}-\d{8}T\d{6}Z\.jsonl"$/,
    );
    const text = await response.text();
    expect(await verifyExport(text.split("\n"))).toMatchObject({ ok: true, events: 3, heads: 1 });
  });

  it("sends the signed-out to sign in and refuses technicians", async () => {
    expect(await refusal(null, `scope=session&id=${sessionId}`)).toEqual({
      status: 303,
      location: `/login?next=${encodeURIComponent(`/audit/export?scope=session&id=${sessionId}`)}`,
    });
    expect(await refusal(tech, `scope=session&id=${sessionId}`)).toEqual({
      status: 403,
      message: "Only administrators can export the audit log.",
    });
  });

  it("answers 404 for another tenant's session and 400 for a bad query", async () => {
    expect(await refusal(admin, `scope=session&id=${otherSessionId}`)).toMatchObject({ status: 404 });
    expect(await refusal(admin, "scope=session&id=nope")).toEqual({
      status: 400,
      message: "Invalid export — sessionId: Session id must be a valid id",
    });
    expect(await refusal(admin, "from=2025-02-01T00:00:00Z&to=2025-01-01T00:00:00Z")).toEqual({
      status: 400,
      message: "Invalid export — to: From must be before To",
    });
  });

  it("exports a time range given as from and to", async () => {
    const from = new Date(Date.now() - 3_600_000).toISOString();
    const to = new Date(Date.now() + 60_000).toISOString();
    const response = await get(admin, `scope=range&from=${from}&to=${to}`);
    expect(await verifyExport((await response.text()).split("\n"))).toMatchObject({ ok: true, events: 3 });
  });
});
