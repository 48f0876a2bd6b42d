import { randomBytes } from "node:crypto";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { and, asc, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent, eventHash, GENESIS_HASH, verifyChain } from "./audit.ts";
import { AuditHeadSigner } from "./audit-head-signer.ts";
import { type AuditSigningKey, registerSigningKey } from "./audit-signing.ts";
import { type DbHandle, defaultMigrationsFolder } from "./client.ts";
import { databaseError } from "./errors.ts";
import { AuditHeads, SessionEvents, Tenants } from "./schema.ts";
import { createTestSigningKey, testDatabases } from "./testing.ts";

const journal = JSON.parse(
  await readFile(path.join(defaultMigrationsFolder, "meta/_journal.json"), "utf8"),
) as { entries: unknown[] };

describe.each(testDatabases())("audit chain on $name", (backend) => {
  let handle: DbHandle;
  let tenantA: string;
  let tenantB: string;

  beforeAll(async () => {
    handle = await backend.create();
    const rows = await handle.db
      .insert(Tenants)
      .values([{ name: "A" }, { name: "B" }])
      .returning();
    tenantA = rows[0]!.id;
    tenantB = rows[1]!.id;
  });
  afterAll(() => handle?.close());

  it("applies the migrations and can run them again without error", async () => {
    await handle.migrate();
    const count = async (query: ReturnType<typeof sql>) => {
      const result = await handle.db.execute(query);
      const rows = (Array.isArray(result) ? result : (result as { rows: unknown[] }).rows) as { n: number }[];
      return rows[0]!.n;
    };
    // Every migration recorded once, the append-only triggers in place, the data untouched.
    expect(await count(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)).toBe(
      journal.entries.length,
    );
    expect(
      await count(
        sql`select count(*)::int as n from pg_trigger where tgrelid = 'session_events'::regclass and not tgisinternal`,
      ),
    ).toBe(2);
    expect(await count(sql`select count(*)::int as n from tenants`)).toBe(2);
  });

  it("starts each tenant's chain at seq 1 from the genesis hash", async () => {
    const first = await appendEvent(handle.db, {
      tenantId: tenantA,
      type: "test.first",
      actor: { type: "system" },
      data: { b: 2, a: 1, nested: { z: [1, "x", null], y: true } },
    });
    expect(first.seq).toBe(1);
    expect(first.prevHash).toBe(GENESIS_HASH);
    expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
    const second = await appendEvent(handle.db, {
      tenantId: tenantA,
      type: "test.second",
      actor: { type: "system" },
    });
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first.hash);
  });

  it("keeps one chain per tenant", async () => {
    const other = await appendEvent(handle.db, {
      tenantId: tenantB,
      type: "test.b",
      actor: { type: "system" },
    });
    expect(other.seq).toBe(1);
    expect(other.prevHash).toBe(GENESIS_HASH);
  });

  it("appends from many concurrent transactions without forks or gaps", async () => {
    const before = await verifyChain(handle.db, tenantA);
    expect(before.ok).toBe(true);
    const writers = 40;
    await Promise.all(
      Array.from({ length: writers }, (_, i) =>
        handle.db.transaction(async (tx) => {
          await appendEvent(tx, {
            tenantId: tenantA,
            type: "test.concurrent",
            actor: { type: "system" },
            data: { i },
          });
          // A second append in the same transaction must continue that transaction's own link.
          await appendEvent(tx, {
            tenantId: tenantA,
            type: "test.concurrent.follow",
            actor: { type: "system" },
            data: { i },
          });
        }),
      ),
    );
    const rows = await handle.db
      .select({ seq: SessionEvents.seq })
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, tenantA))
      .orderBy(SessionEvents.seq);
    const seqs = rows.map((r) => r.seq);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    const after = await verifyChain(handle.db, tenantA, { batchSize: 7 });
    expect(after).toMatchObject({ ok: true, checked: before.ok ? before.checked + writers * 2 : -1 });
  });

  it("rolls an event back with the transaction that appended it", async () => {
    const before = await verifyChain(handle.db, tenantB);
    await expect(
      handle.db.transaction(async (tx) => {
        await appendEvent(tx, { tenantId: tenantB, type: "test.rolled_back", actor: { type: "system" } });
        throw new Error("abort");
      }),
    ).rejects.toThrow("abort");
    const after = await verifyChain(handle.db, tenantB);
    expect(after).toEqual(before);
  });

  it("refuses UPDATE, DELETE and TRUNCATE on events in the database itself", async () => {
    const refusal = (query: PromiseLike<unknown>) =>
      Promise.resolve(query).then(
        () => undefined,
        (error: unknown) => databaseError(error),
      );
    const attempts = [
      handle.db.update(SessionEvents).set({ type: "forged" }).where(eq(SessionEvents.tenantId, tenantA)),
      handle.db.delete(SessionEvents).where(eq(SessionEvents.tenantId, tenantA)),
      handle.db.execute(sql`truncate session_events`),
    ];
    for (const attempt of attempts) {
      expect(await refusal(attempt)).toMatchObject({
        code: "42501",
        message: expect.stringMatching(/append-only/),
      });
    }
    expect((await verifyChain(handle.db, tenantA)).ok).toBe(true);
  });

  it("names the first altered event when a row is edited behind the trigger's back", async () => {
    const [victim] = await handle.db
      .select()
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, tenantA))
      .orderBy(SessionEvents.seq)
      .offset(4)
      .limit(1);
    await handle.db.transaction(async (tx) => {
      await tx.execute(sql`alter table session_events disable trigger session_events_no_update_delete`);
      await tx.execute(sql`update session_events set data = '{"i": 999}'::jsonb where id = ${victim!.id}`);
      await tx.execute(sql`alter table session_events enable trigger session_events_no_update_delete`);
    });
    const result = await verifyChain(handle.db, tenantA);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.firstBroken).toMatchObject({ id: victim!.id, seq: victim!.seq, reason: "hash_mismatch" });
    expect(result.checked).toBe(victim!.seq - 1);
    // The other tenant's chain is unaffected.
    expect((await verifyChain(handle.db, tenantB)).ok).toBe(true);
  });

  it("reports a deleted event as a gap at the event after it", async () => {
    const tenant = (await handle.db.insert(Tenants).values({ name: "C" }).returning())[0]!.id;
    for (let i = 0; i < 5; i++) {
      await appendEvent(handle.db, {
        tenantId: tenant,
        type: "test.gap",
        actor: { type: "system" },
        data: { i },
      });
    }
    await handle.db.transaction(async (tx) => {
      await tx.execute(sql`alter table session_events disable trigger session_events_no_update_delete`);
      await tx.execute(sql`delete from session_events where tenant_id = ${tenant} and seq = 3`);
      await tx.execute(sql`alter table session_events enable trigger session_events_no_update_delete`);
    });
    const result = await verifyChain(handle.db, tenant);
    expect(result).toMatchObject({ ok: false, checked: 2, firstBroken: { seq: 4, reason: "seq_gap" } });
  });

  describe("signed heads", () => {
    let key: AuditSigningKey;
    const quiet = { info() {}, warn() {}, error() {} };
    const MINUTE = 60_000;
    const eventAt = (tenant: string, seq: number) =>
      and(eq(SessionEvents.tenantId, tenant), eq(SessionEvents.seq, seq));

    beforeAll(async () => {
      key = await createTestSigningKey();
      await registerSigningKey(handle.db, key);
    });

    /** A tenant with `n` events and a head signed after each seq in `signAt`. */
    async function signedTenant(n: number, signAt: number[]) {
      const tenant = (await handle.db.insert(Tenants).values({ name: "Signed" }).returning())[0]!.id;
      const signer = new AuditHeadSigner({ db: handle.db, key, log: quiet });
      for (let i = 1; i <= n; i++) {
        await appendEvent(handle.db, {
          tenantId: tenant,
          type: "test.signed",
          actor: { type: "system" },
          data: { i },
        });
        if (signAt.includes(i)) await signer.signHeadOf(tenant);
      }
      return tenant;
    }

    /** Rewrites the tenant's chain from `fromSeq` behind the triggers' back, every hash recomputed. */
    async function rewriteChain(tenant: string, fromSeq: number) {
      await handle.db.transaction(async (tx) => {
        await tx.execute(sql`alter table session_events disable trigger user`);
        const events = await tx
          .select()
          .from(SessionEvents)
          .where(eq(SessionEvents.tenantId, tenant))
          .orderBy(asc(SessionEvents.seq));
        let prevHash = GENESIS_HASH;
        for (const event of events) {
          const data = event.seq === fromSeq ? { i: 999, note: "rewritten" } : event.data;
          const hash = eventHash(prevHash, { ...event, data });
          if (hash !== event.hash) {
            await tx
              .update(SessionEvents)
              .set({ data, prevHash, hash })
              .where(eq(SessionEvents.id, event.id));
          }
          prevHash = hash;
        }
        await tx.execute(sql`alter table session_events enable trigger user`);
      });
    }

    it("reports the last signed head and the events after it that still wait for one", async () => {
      const tenant = await signedTenant(12, [5, 10]);
      const result = await verifyChain(handle.db, tenant, { batchSize: 4 });
      expect(result).toMatchObject({
        ok: true,
        checked: 12,
        lastSignedHead: { seq: 10, keyId: key.id, signedAt: expect.any(Date) },
        unsignedTail: 2,
      });
    });

    it("names the first signed head a consistently rewritten chain no longer matches", async () => {
      const tenant = await signedTenant(12, [5, 10]);
      await rewriteChain(tenant, 3);
      const result = await verifyChain(handle.db, tenant);
      expect(result).toMatchObject({
        ok: false,
        checked: 4,
        firstBroken: { seq: 5, reason: "head_mismatch" },
      });
      if (result.ok) return;
      expect(result.firstBroken.message).toMatch(
        /^the chain at #5 no longer matches the head signed at .+: it was rewritten$/,
      );
      // A rewrite after the first head is caught at the next one.
      const later = await signedTenant(12, [5, 10]);
      await rewriteChain(later, 7);
      expect(await verifyChain(handle.db, later)).toMatchObject({
        ok: false,
        checked: 9,
        firstBroken: { seq: 10, reason: "head_mismatch" },
      });
    });

    it("reports a rewritten chain whose heads were removed too as unsigned once the grace period is over", async () => {
      const tenant = await signedTenant(6, [3, 6]);
      await rewriteChain(tenant, 2);
      await handle.db.transaction(async (tx) => {
        await tx.execute(sql`alter table audit_heads disable trigger user`);
        await tx.delete(AuditHeads).where(eq(AuditHeads.tenantId, tenant));
        await tx.execute(sql`alter table audit_heads enable trigger user`);
      });
      // Within the grace period an unsigned tail is normal: the signer has not come round yet.
      expect(await verifyChain(handle.db, tenant)).toMatchObject({
        ok: true,
        lastSignedHead: null,
        unsignedTail: 6,
      });
      const later = new Date(Date.now() + 10 * MINUTE);
      const result = await verifyChain(handle.db, tenant, { now: later });
      expect(result).toMatchObject({ ok: false, checked: 0, firstBroken: { seq: 1, reason: "unsigned" } });
      if (result.ok) return;
      expect(result.firstBroken.message).toMatch(/^events #1\.\.#6 are covered by no signed head/);
      expect(
        await verifyChain(handle.db, tenant, { now: later, unsignedGraceMs: 60 * MINUTE }),
      ).toMatchObject({
        ok: true,
      });
    });

    it("reports only the events past the grace period after the last head as unsigned", async () => {
      const tenant = await signedTenant(4, [2]);
      const result = await verifyChain(handle.db, tenant, { now: new Date(Date.now() + 10 * MINUTE) });
      expect(result).toMatchObject({ ok: false, checked: 2, firstBroken: { seq: 3, reason: "unsigned" } });
      if (result.ok) return;
      expect(result.firstBroken.message).toMatch(/^events #3\.\.#4 are covered by no signed head/);
    });

    it("rejects a forged head row whose signature is not genuine", async () => {
      const tenant = await signedTenant(4, [2]);
      const [fourth] = await handle.db.select().from(SessionEvents).where(eventAt(tenant, 4));
      await handle.db.insert(AuditHeads).values({
        tenantId: tenant,
        seq: 4,
        hash: fourth!.hash,
        keyId: key.id,
        signature: randomBytes(64).toString("base64"),
        signedAt: new Date(),
      });
      const result = await verifyChain(handle.db, tenant);
      expect(result).toMatchObject({
        ok: false,
        checked: 3,
        firstBroken: { seq: 4, reason: "bad_signature" },
      });
      if (result.ok) return;
      expect(result.firstBroken.message).toMatch(
        /^the signature of the head signed at .+ for #4 is not genuine$/,
      );
    });

    it("rejects a head signed by a key that is not trusted, or not registered", async () => {
      const tenant = await signedTenant(3, [3]);
      expect(await verifyChain(handle.db, tenant, { trustedKeyIds: [key.id] })).toMatchObject({ ok: true });
      expect(await verifyChain(handle.db, tenant, { trustedKeyIds: ["ab".repeat(32)] })).toMatchObject({
        ok: false,
        firstBroken: {
          seq: 3,
          reason: "unknown_key",
          message: expect.stringMatching(/not a trusted signing key/),
        },
      });
      // A key the database does not know (its row removed behind the constraints' back).
      const stranger = await createTestSigningKey();
      const other = await signedTenant(2, []);
      const [second] = await handle.db.select().from(SessionEvents).where(eventAt(other, 2));
      await handle.db.transaction(async (tx) => {
        await tx.execute(sql`set local session_replication_role = replica`);
        await tx.insert(AuditHeads).values({
          tenantId: other,
          seq: 2,
          hash: second!.hash,
          keyId: stranger.id,
          signature: randomBytes(64).toString("base64"),
          signedAt: new Date(),
        });
      });
      expect(await verifyChain(handle.db, other)).toMatchObject({
        ok: false,
        firstBroken: {
          seq: 2,
          reason: "unknown_key",
          message: expect.stringMatching(/not a registered signing key/),
        },
      });
    });

    it("reports events removed from the end of a signed chain as truncated", async () => {
      const tenant = await signedTenant(5, [5]);
      await handle.db.transaction(async (tx) => {
        await tx.execute(sql`alter table session_events disable trigger user`);
        await tx.delete(SessionEvents).where(eventAt(tenant, 5));
        await tx.execute(sql`alter table session_events enable trigger user`);
      });
      const result = await verifyChain(handle.db, tenant);
      expect(result).toMatchObject({ ok: false, checked: 4, firstBroken: { seq: 5, reason: "truncated" } });
      if (result.ok) return;
      expect(result.firstBroken.message).toMatch(/but the chain ends at #4: events were removed$/);
    });
  });
});
