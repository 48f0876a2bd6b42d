import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { parseDeskTemplate } from "@rd/protocol";
import { and, asc, eq, gte, lt } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent } from "./audit.ts";
import { type AuditExportScope, AuditScopeNotFound, openAuditExport } from "./audit-export.ts";
import { AuditHeadSigner } from "./audit-head-signer.ts";
import { verifyExport } from "./audit-offline-verify.ts";
import { type AuditSigningKey, registerSigningKey } from "./audit-signing.ts";
import type { DbHandle } from "./client.ts";
import { Agents, Desks, RemoteSessions, SessionEvents, Tenants, Users } from "./schema.ts";
import { createTestSigningKey, testDatabases } from "./testing.ts";

const quiet = { info() {}, warn() {}, error() {} };
const root = fileURLToPath(new URL("../../..", import.meta.url));
const run = promisify(execFile);

type Line = Record<string, unknown> & { kind: string; seq?: number };

describe.each(testDatabases())("audit export on $name", (backend) => {
  let handle: DbHandle;
  let key: AuditSigningKey;
  let signer: AuditHeadSigner;
  let tenant: string;
  let otherTenant: string;
  let agent: string;
  let otherAgent: string;
  let session: string;
  let deskSession: string;
  let idle: string;
  let desk: string;
  let dir: string;

  async function exportLines(scope: AuditExportScope, tenantId = tenant, batchSize = 2) {
    const exported = await openAuditExport(handle.db, tenantId, scope, { batchSize });
    const lines: string[] = [];
    for await (const line of exported.lines()) lines.push(line);
    return { filename: exported.filename, lines };
  }
  const parse = (lines: string[]) => lines.map((line) => JSON.parse(line) as Line);
  const kinds = (lines: string[]) => parse(lines).map((l) => `${l.kind}${l.seq ?? ""}`);

  beforeAll(async () => {
    handle = await backend.create();
    key = await createTestSigningKey();
    await registerSigningKey(handle.db, key);
    signer = new AuditHeadSigner({ db: handle.db, key, log: quiet });
    dir = await mkdtemp(path.join(tmpdir(), "rd-audit-export-"));
    const [t, other] = await handle.db
      .insert(Tenants)
      .values([{ name: "Acme" }, { name: "Other" }])
      .returning();
    tenant = t!.id;
    otherTenant = other!.id;
    const [user] = await handle.db
      .insert(Users)
      .values({
        tenantId: tenant,
        email: "tech@acme.example",
        name: "tech",
        role: "technician",
        passwordHash: "x",
      })
      .returning();
    const newAgent = async (name: string) =>
      (
        await handle.db
          .insert(Agents)
          .values({ tenantId: tenant, name, hostname: name, os: "linux", version: "1", credentialHash: name })
          .returning()
      )[0]!.id;
    agent = await newAgent("reception");
    otherAgent = await newAgent("desk-agent");
    const [d] = await handle.db
      .insert(Desks)
      .values({
        tenantId: tenant,
        templateName: "interview",
        template: parseDeskTemplate({ name: "interview" }),
        candidateLabel: "Ada",
        expiresAt: new Date(Date.now() + 3_600_000),
      })
      .returning();
    desk = d!.id;
    const newSession = async (agentId: string, deskId: string | null = null) =>
      (
        await handle.db
          .insert(RemoteSessions)
          .values({ tenantId: tenant, agentId, technicianId: user!.id, deskId })
          .returning()
      )[0]!.id;
    session = await newSession(agent);
    deskSession = await newSession(otherAgent, desk);
    idle = await newSession(agent);

    const event = (type: string, fields: { sessionId?: string; agentId?: string; data?: object } = {}) =>
      appendEvent(handle.db, {
        tenantId: tenant,
        type,
        actor: { type: "user", id: user!.id },
        sessionId: fields.sessionId ?? null,
        agentId: fields.agentId ?? null,
        data: { ...fields.data },
      });
    await event("agent_renamed", { agentId: agent, data: { name: "reception" } }); // 1
    await event("session_requested", { sessionId: session, agentId: agent }); // 2
    await event("user_signed_in"); // 3
    await event("desk_created", { data: { deskId: desk, template: "interview" } }); // 4
    await signer.signHeadOf(tenant); // head #4
    await event("session_requested", { sessionId: deskSession, agentId: otherAgent }); // 5
    await event("session_started", {
      sessionId: session,
      agentId: agent,
      data: { nested: { b: 1, a: [1, "x"] } },
    }); // 6
    await event("user_signed_in"); // 7
    await signer.signHeadOf(tenant); // head #7
    await event("session_ended", { sessionId: session, agentId: agent, data: { reason: "done" } }); // 8
    await event("user_signed_in"); // 9
    await signer.signHeadOf(tenant); // head #9
    await event("user_signed_in"); // 10
    await appendEvent(handle.db, {
      tenantId: otherTenant,
      type: "user_signed_in",
      actor: { type: "system" },
    });
  });
  afterAll(async () => {
    await handle?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("exports a session in full, the rest of the chain as links, up to the first signed head after its last event", async () => {
    const { lines, filename } = await exportLines({ scope: "session", sessionId: session });
    expect(filename).toMatch(new RegExp(`^audit-session-${session.slice(0, 8)}-\\d{8}T\\d{6}Z\\.jsonl$`));
    expect(kinds(lines)).toEqual([
      "header",
      "event2",
      "link3",
      "link4",
      "head4",
      "link5",
      "event6",
      "link7",
      "head7",
      "event8",
      "link9",
      "head9",
    ]);
    const [header, ...rest] = parse(lines);
    expect(header).toMatchObject({
      kind: "header",
      format: "rd-audit-export",
      v: 1,
      tenantId: tenant,
      scope: { scope: "session", sessionId: session },
      exportedAt: expect.any(String),
      publicKeys: [{ id: key.id, publicKey: key.publicKeyPem }],
    });
    // A link withholds the event's content; an event line carries every hashed field.
    expect(Object.keys(rest.find((l) => l.kind === "link")!).sort()).toEqual([
      "hash",
      "kind",
      "prevHash",
      "seq",
    ]);
    const [stored] = await handle.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, tenant), eq(SessionEvents.seq, 6)));
    expect(rest.find((l) => l.seq === 6 && l.kind === "event")).toEqual({
      kind: "event",
      ...stored,
      createdAt: stored!.createdAt.toISOString(),
    });
    expect(await verifyExport(lines)).toEqual({
      ok: true,
      tenantId: tenant,
      scope: { scope: "session", sessionId: session },
      events: 3,
      links: 5,
      heads: 3,
      keyIds: [key.id],
      lastSignedSeq: 9,
    });
  });

  it("exports an agent's events and a desk's (its own and its sessions')", async () => {
    expect(kinds((await exportLines({ scope: "agent", agentId: agent })).lines)).toEqual([
      "header",
      "event1",
      "event2",
      "link3",
      "link4",
      "head4",
      "link5",
      "event6",
      "link7",
      "head7",
      "event8",
      "link9",
      "head9",
    ]);
    const deskExport = await exportLines({ scope: "desk", deskId: desk });
    expect(kinds(deskExport.lines)).toEqual([
      "header",
      "event4",
      "head4",
      "event5",
      "link6",
      "link7",
      "head7",
    ]);
    expect(await verifyExport(deskExport.lines)).toMatchObject({ ok: true, events: 2, links: 2, heads: 2 });
  });

  it("exports a time range of the tenant", async () => {
    const all = await handle.db
      .select()
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, tenant))
      .orderBy(asc(SessionEvents.seq));
    const from = all[2]!.createdAt;
    const to = new Date(all[5]!.createdAt.getTime() + 1);
    const expected = await handle.db
      .select({ seq: SessionEvents.seq })
      .from(SessionEvents)
      .where(
        and(
          eq(SessionEvents.tenantId, tenant),
          gte(SessionEvents.createdAt, from),
          lt(SessionEvents.createdAt, to),
        ),
      );
    const { lines } = await exportLines({ scope: "range", from, to });
    const parsed = parse(lines);
    expect(parsed[0]!.scope).toEqual({ scope: "range", from: from.toISOString(), to: to.toISOString() });
    expect(parsed.filter((l) => l.kind === "event").map((l) => l.seq)).toEqual(expected.map((e) => e.seq));
    expect(await verifyExport(lines)).toMatchObject({ ok: true, events: expected.length });
  });

  it("ends at the chain's head when no head covers the last event yet, and the verifier says so", async () => {
    const { lines } = await exportLines({
      scope: "range",
      from: new Date(0),
      to: new Date(Date.now() + 60_000),
    });
    expect(kinds(lines).slice(-3)).toEqual(["event9", "head9", "event10"]);
    expect(await verifyExport(lines)).toEqual({
      ok: false,
      line: lines.length,
      reason: "unsigned",
      message: expect.stringMatching(/^#10 comes after the last signed head/),
    });
  });

  it("writes only a header for a scope without events, and refuses another tenant's session, agent or desk", async () => {
    const { lines } = await exportLines({ scope: "session", sessionId: idle });
    expect(kinds(lines)).toEqual(["header"]);
    expect(await verifyExport(lines)).toMatchObject({ ok: true, events: 0, heads: 0 });
    for (const scope of [
      { scope: "session", sessionId: session },
      { scope: "agent", agentId: agent },
      { scope: "desk", deskId: desk },
    ] as const) {
      await expect(openAuditExport(handle.db, otherTenant, scope)).rejects.toBeInstanceOf(AuditScopeNotFound);
    }
  });

  describe("offline verification", () => {
    let good: string[];
    beforeAll(async () => {
      good = (await exportLines({ scope: "session", sessionId: session })).lines;
    });
    /** The export with line `n` (1-based) replaced by what `edit` makes of its JSON. */
    const edited = (n: number, edit: (line: Line) => unknown) =>
      good.map((line, i) => (i === n - 1 ? JSON.stringify(edit(JSON.parse(line) as Line)) : line));
    /** The line number of the `kind` line for `seq` in the good export. */
    const lineOf = (kind: string, seq: number) =>
      good.findIndex((line) => {
        const parsed = JSON.parse(line) as Line;
        return parsed.kind === kind && parsed.seq === seq;
      }) + 1;
    const signature = Buffer.alloc(64, 1).toString("base64");

    it.each([
      {
        name: "an altered event",
        make: () => edited(lineOf("event", 6), (l) => ({ ...l, data: { tampered: true } })),
        line: () => lineOf("event", 6),
        reason: "hash_mismatch",
      },
      {
        name: "a removed line",
        make: () => good.filter((_, i) => i !== lineOf("link", 5) - 1),
        line: () => lineOf("link", 5), // where event #6 now stands
        reason: "seq_gap",
      },
      {
        name: "a changed link",
        make: () => edited(lineOf("link", 5), (l) => ({ ...l, hash: "0".repeat(64) })),
        line: () => lineOf("event", 6),
        reason: "broken_link",
      },
      {
        name: "a forged signature",
        make: () => edited(lineOf("head", 7), (l) => ({ ...l, signature })),
        line: () => lineOf("head", 7),
        reason: "bad_signature",
      },
      {
        name: "a head moved to another hash",
        make: () => edited(lineOf("head", 7), (l) => ({ ...l, hash: "1".repeat(64) })),
        line: () => lineOf("head", 7),
        reason: "head_mismatch",
      },
      {
        name: "a head's time changed",
        make: () => edited(lineOf("head", 4), (l) => ({ ...l, signedAt: "2020-01-01T00:00:00.000Z" })),
        line: () => lineOf("head", 4),
        reason: "bad_signature",
      },
      {
        name: "a key the header does not have",
        make: () => edited(lineOf("head", 4), (l) => ({ ...l, keyId: "ab".repeat(32) })),
        line: () => lineOf("head", 4),
        reason: "unknown_key",
      },
      {
        name: "a field the hash does not cover",
        make: () => edited(lineOf("event", 2), (l) => ({ ...l, approvedBy: "ceo" })),
        line: () => lineOf("event", 2),
        reason: "bad_line",
      },
      {
        name: "an event of another tenant",
        make: () => edited(lineOf("event", 2), (l) => ({ ...l, tenantId: otherTenant })),
        line: () => lineOf("event", 2),
        reason: "wrong_tenant",
      },
      {
        name: "a dropped last head",
        make: () => good.slice(0, -1),
        line: () => lineOf("event", 8),
        reason: "unsigned",
      },
    ])("reports $name at its line ($reason)", async ({ make, line, reason }) => {
      expect(await verifyExport(make())).toMatchObject({ ok: false, line: line(), reason });
    });

    it("reports broken JSON, a bad header and a header key that is not what it claims", async () => {
      expect(await verifyExport([good[0]!, "{not json"])).toMatchObject({
        ok: false,
        line: 2,
        reason: "bad_json",
      });
      expect(await verifyExport(good.slice(1))).toMatchObject({ ok: false, line: 1, reason: "bad_header" });
      const other = await createTestSigningKey();
      const forgedKeys = edited(1, (h) => ({
        ...h,
        publicKeys: [{ id: key.id, publicKey: other.publicKeyPem }],
      }));
      expect(await verifyExport(forgedKeys)).toMatchObject({ ok: false, line: 1, reason: "bad_key" });
      expect(await verifyExport([])).toMatchObject({ ok: false, line: 1, reason: "empty" });
      expect(await verifyExport([...good, "", ""])).toMatchObject({ ok: true });
      expect(await verifyExport([good[0]!, "", ...good.slice(1)])).toMatchObject({
        ok: false,
        line: 2,
        reason: "bad_json",
      });
    });

    it("accepts only the trusted keys when told which", async () => {
      expect(await verifyExport(good, { trustedKeyIds: [key.id] })).toMatchObject({ ok: true });
      expect(await verifyExport(good, { trustedKeyIds: ["ab".repeat(32)] })).toMatchObject({
        ok: false,
        reason: "unknown_key",
        message: expect.stringMatching(/not a trusted key/),
      });
    });
  });

  describe("npm run audit:verify", () => {
    const verify = (...args: string[]) =>
      run(process.execPath, [path.join(root, "scripts/audit-verify.ts"), ...args], { cwd: root }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );

    it("prints OK with the counts and the key for a genuine export", async () => {
      const file = path.join(dir, "session.jsonl");
      await writeFile(
        file,
        (await exportLines({ scope: "session", sessionId: session })).lines.join("\n") + "\n",
      );
      const result = await verify(file);
      expect(result).toMatchObject({ code: 0, stdout: `OK: 3 events, 3 signed heads, key ${key.id}\n` });
    });

    it("prints FAILED with the line and exits 1 when one line was edited", async () => {
      const lines = (await exportLines({ scope: "session", sessionId: session })).lines;
      const at = lines.findIndex((line) => JSON.parse(line).seq === 8 && JSON.parse(line).kind === "event");
      lines[at] = lines[at]!.replace('"reason":"done"', '"reason":"nothing happened"');
      const file = path.join(dir, "edited.jsonl");
      await writeFile(file, lines.join("\n") + "\n");
      expect(await verify(file)).toMatchObject({
        code: 1,
        stdout: `FAILED at line ${at + 1}: event #8 was altered: its content does not match its hash\n`,
      });
    });

    it("exits 2 with a clear message without a file or with one it cannot read", async () => {
      const [none, missing, directory] = await Promise.all([
        verify(),
        verify(path.join(dir, "missing.jsonl")),
        verify(dir),
      ]);
      expect(none).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(
          /^Give the export file to verify\.\nusage: npm run audit:verify -- FILE/,
        ),
      });
      expect(missing).toMatchObject({
        code: 2,
        stderr: expect.stringMatching(/^Cannot read .*missing\.jsonl: no such file\./),
      });
      expect(directory).toMatchObject({ code: 2, stderr: expect.stringMatching(/is a directory/) });
    });
  });
});
