/**
 * The audit export and signing procedures on both databases: exports of a session, an agent, a desk
 * and a time range that verify offline once a head signs them; admins only; another tenant's ids
 * are NOT_FOUND; the signing key's fingerprint and the last signed head.
 */
import {
  AuditHeadSigner,
  type AuditSigningKey,
  type DbHandle,
  registerSigningKey,
  SessionEvents,
  verifyExport,
} from "@rd/db";
import { createTestSigningKey, testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFixture, type Fixture } from "../test-fixture.ts";

const quiet = { info() {}, warn() {}, error() {} };
const linesOf = (text: string) => text.split("\n");
type Line = { kind: string; seq?: number; tenantId?: string; sessionId?: string | null };
const parsed = (text: string) =>
  text
    .trimEnd()
    .split("\n")
    .map((line) => JSON.parse(line) as Line);

describe.each(testDatabases())("audit export and signing on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;
  let key: AuditSigningKey;
  let signer: AuditHeadSigner;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
    key = await createTestSigningKey();
    await registerSigningKey(f.db, key);
    signer = new AuditHeadSigner({ db: f.db, key, log: quiet });
  });
  afterAll(() => handle?.close());

  it("names the signing key and, once there is one, the tenant's last signed head", async () => {
    expect(await f.a.asAdmin.events.signing()).toMatchObject({
      currentKeyId: key.id,
      keys: [{ id: key.id, publicKey: key.publicKeyPem, lastUsedAt: null }],
      lastSignedHead: null,
    });
    const head = await signer.signHeadOf(f.a.id);
    const signing = await f.a.asAdmin.events.signing();
    expect(signing.lastSignedHead).toEqual({
      seq: head!.seq,
      hash: head!.hash,
      signedAt: head!.signedAt,
      keyId: key.id,
    });
    expect(signing.keys[0]!.lastUsedAt).toEqual(head!.signedAt);
    // The other tenant's heads are its own.
    expect((await f.b.asAdmin.events.signing()).lastSignedHead).toBeNull();
    expect(await f.a.asAdmin.events.verify()).toMatchObject({
      ok: true,
      lastSignedHead: { seq: head!.seq, keyId: key.id },
    });
  });

  it("exports a session's events as JSON Lines that verify offline", async () => {
    await signer.signHeadOf(f.a.id);
    const exported = await f.a.asAdmin.events.export({ scope: "session", sessionId: f.a.session.id });
    expect(exported.filename).toMatch(/^audit-session-[0-9a-f]{8}-\d{8}T\d{6}Z\.jsonl$/);
    expect(exported.lines.endsWith("\n")).toBe(true);
    const lines = parsed(exported.lines);
    expect(lines[0]).toMatchObject({ kind: "header", tenantId: f.a.id, scope: { scope: "session" } });
    const events = lines.filter((l) => l.kind === "event");
    expect(events.length).toBeGreaterThan(0);
    expect(events.every((e) => e.sessionId === f.a.session.id)).toBe(true);
    expect(lines.at(-1)!.kind).toBe("head");
    expect(await verifyExport(linesOf(exported.lines))).toMatchObject({
      ok: true,
      tenantId: f.a.id,
      events: events.length,
      keyIds: [key.id],
    });
  });

  it("exports an agent, a desk and a time range of the caller's tenant only", async () => {
    const desk = await f.a.asTech.desks.create({ candidateLabel: "Ada" });
    await signer.signHeadOf(f.a.id);
    const agent = await f.a.asAdmin.events.export({ scope: "agent", agentId: f.a.onlineAgent });
    expect(await verifyExport(linesOf(agent.lines))).toMatchObject({ ok: true });
    const deskExport = await f.a.asAdmin.events.export({ scope: "desk", deskId: desk.desk.id });
    const deskEvents = parsed(deskExport.lines).filter((l) => l.kind === "event");
    expect(deskEvents.map((e) => (e as { type?: string }).type)).toContain("desk_created");
    expect(await verifyExport(linesOf(deskExport.lines))).toMatchObject({
      ok: true,
      events: deskEvents.length,
    });

    const range = await f.a.asAdmin.events.export({
      scope: "range",
      from: new Date(Date.now() - 3_600_000),
      to: new Date(Date.now() + 60_000),
    });
    const all = await f.db.select().from(SessionEvents).where(eq(SessionEvents.tenantId, f.a.id));
    const result = await verifyExport(linesOf(range.lines));
    expect(result).toMatchObject({ ok: true, events: all.length, links: 0 });
    expect(parsed(range.lines).every((l) => l.kind !== "event" || l.tenantId === f.a.id)).toBe(true);
  });

  it("answers NOT_FOUND for another tenant's session, agent or desk", async () => {
    const theirDesk = await f.b.asTech.desks.create({ candidateLabel: "Grace" });
    for (const input of [
      { scope: "session", sessionId: f.b.session.id },
      { scope: "agent", agentId: f.b.onlineAgent },
      { scope: "desk", deskId: theirDesk.desk.id },
    ] as const) {
      await expect(f.a.asAdmin.events.export(input)).rejects.toMatchObject({ code: "NOT_FOUND" });
    }
  });

  it("is for admins only", async () => {
    await expect(
      f.a.asTech.events.export({ scope: "session", sessionId: f.a.session.id }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(f.a.asTech.events.signing()).rejects.toMatchObject({ code: "FORBIDDEN" });
    await expect(f.anonymous.events.signing()).rejects.toMatchObject({ code: "UNAUTHORIZED" });
  });

  it("refuses a scope it does not know, a bad id and a range that ends before it starts", async () => {
    const bad = (input: unknown) =>
      expect(f.a.asAdmin.events.export(input as never)).rejects.toMatchObject({ code: "BAD_REQUEST" });
    await bad({ scope: "tenant" });
    await bad({ scope: "session", sessionId: "nope" });
    await bad({ scope: "range", from: new Date(), to: new Date(Date.now() - 1) });
    await bad({ scope: "range", from: "yesterday", to: new Date() });
  });
});
