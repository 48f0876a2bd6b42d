import { eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent, GENESIS_HASH, verifyChain } from "./audit.ts";
import type { DbHandle } from "./client.ts";
import { databaseError } from "./errors.ts";
import { SessionEvents, Tenants } from "./schema.ts";
import { testDatabases } from "./testing.ts";

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
    expect(await count(sql`select count(*)::int as n from drizzle.__drizzle_migrations`)).toBe(6);
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
});
