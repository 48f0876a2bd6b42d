import { asc, eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent, verifyChain } from "./audit.ts";
import { AuditHeadSigner } from "./audit-head-signer.ts";
import type { AuditSigningKey } from "./audit-signing.ts";
import type { DbHandle } from "./client.ts";
import { AuditHeads, AuditSigningKeys, SessionEvents, Tenants } from "./schema.ts";
import { createTestSigningKey, testDatabases } from "./testing.ts";

const quiet = { info() {}, warn() {}, error() {} };

describe.each(testDatabases())("audit head signer on $name", (backend) => {
  let handle: DbHandle;
  let key: AuditSigningKey;

  beforeAll(async () => {
    handle = await backend.create();
    key = await createTestSigningKey();
  });
  afterAll(() => handle?.close());

  async function newTenant() {
    const [row] = await handle.db.insert(Tenants).values({ name: "T" }).returning();
    return row!.id;
  }
  async function append(tenantId: string, n: number) {
    for (let i = 0; i < n; i++) {
      await appendEvent(handle.db, { tenantId, type: "test.event", actor: { type: "system" }, data: { i } });
    }
  }
  const headsOf = (tenantId: string) =>
    handle.db.select().from(AuditHeads).where(eq(AuditHeads.tenantId, tenantId)).orderBy(asc(AuditHeads.seq));

  /** A signer on a clock the test moves. */
  function signerAt(clock: { now: Date }, options: { everyEvents?: number; everyMs?: number } = {}) {
    return new AuditHeadSigner({ db: handle.db, key, log: quiet, now: () => clock.now, ...options });
  }

  it("registers its key once, however often it starts", async () => {
    const a = new AuditHeadSigner({ db: handle.db, key, log: quiet, pollMs: 60_000 });
    const b = new AuditHeadSigner({ db: handle.db, key, log: quiet, pollMs: 60_000 });
    await a.start();
    await b.start();
    await Promise.all([a.stop(), b.stop()]);
    const rows = await handle.db.select().from(AuditSigningKeys).where(eq(AuditSigningKeys.id, key.id));
    expect(rows).toEqual([expect.objectContaining({ id: key.id, publicKey: key.publicKeyPem })]);
  });

  it("signs a tenant's head once it has everyEvents unsigned events", async () => {
    const tenant = await newTenant();
    const signer = signerAt({ now: new Date() }, { everyEvents: 5, everyMs: 3_600_000 });
    await append(tenant, 4);
    expect((await signer.signDue()).filter((h) => h.tenantId === tenant)).toEqual([]);
    await append(tenant, 1);
    const [head] = (await signer.signDue()).filter((h) => h.tenantId === tenant);
    const [fifth] = await handle.db
      .select()
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, tenant))
      .orderBy(asc(SessionEvents.seq))
      .offset(4);
    expect(head).toMatchObject({ seq: 5, hash: fifth!.hash, keyId: key.id });
    // Signed: nothing is due until more events come.
    expect((await signer.signDue()).filter((h) => h.tenantId === tenant)).toEqual([]);
  });

  it("signs any unsigned event once the first unsigned event, then the last head, is everyMs old", async () => {
    const tenant = await newTenant();
    const clock = { now: new Date() };
    const signer = signerAt(clock, { everyEvents: 1000, everyMs: 60_000 });
    await append(tenant, 2);
    expect((await signer.signDue()).some((h) => h.tenantId === tenant)).toBe(false);
    clock.now = new Date(Date.now() + 61_000);
    expect((await signer.signDue()).filter((h) => h.tenantId === tenant)).toMatchObject([{ seq: 2 }]);
    // The last head is now the reference: an event soon after it waits, one after a quiet minute does not.
    await append(tenant, 1);
    clock.now = new Date(clock.now.getTime() + 30_000);
    expect((await signer.signDue()).some((h) => h.tenantId === tenant)).toBe(false);
    clock.now = new Date(clock.now.getTime() + 31_000);
    expect((await signer.signDue()).filter((h) => h.tenantId === tenant)).toMatchObject([{ seq: 3 }]);
    expect((await headsOf(tenant)).map((h) => h.seq)).toEqual([2, 3]);
  });

  it("writes one head when two signers with the same key sign the same head", async () => {
    const tenant = await newTenant();
    await append(tenant, 3);
    const clock = { now: new Date() };
    const [a, b] = await Promise.all([
      signerAt(clock).signHeadOf(tenant),
      signerAt(clock).signHeadOf(tenant),
    ]);
    expect([a, b].filter(Boolean)).toHaveLength(1);
    expect(await headsOf(tenant)).toHaveLength(1);
    expect(await signerAt(clock).signHeadOf(await newTenant())).toBeNull();
  });

  it("polls the database, so events appended by other processes are signed, and a nudge is heard at once", async () => {
    const tenant = await newTenant();
    const signer = new AuditHeadSigner({ db: handle.db, key, log: quiet, everyEvents: 3, pollMs: 25 });
    await signer.start();
    try {
      // Appended straight into the database, as a signaling worker would.
      await append(tenant, 3);
      await expect
        .poll(async () => (await headsOf(tenant)).map((h) => h.seq), { timeout: 5000 })
        .toEqual([3]);
      await append(tenant, 3);
      signer.nudge();
      await expect
        .poll(async () => (await headsOf(tenant)).map((h) => h.seq), { timeout: 5000 })
        .toEqual([3, 6]);
    } finally {
      await signer.stop();
    }
    expect(await verifyChain(handle.db, tenant)).toMatchObject({
      ok: true,
      lastSignedHead: { seq: 6, keyId: key.id },
      unsignedTail: 0,
    });
  });

  it("stops only after a signing in flight is written, and signs nothing after", async () => {
    const tenant = await newTenant();
    await append(tenant, 2);
    const signer = new AuditHeadSigner({ db: handle.db, key, log: quiet, everyEvents: 1, pollMs: 60_000 });
    await signer.start();
    // start() runs the first pass at once; stop() must wait for it.
    await new Promise((resolve) => setTimeout(resolve, 0));
    await signer.stop();
    const settled = await headsOf(tenant);
    await append(tenant, 2);
    signer.nudge();
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await headsOf(tenant)).toEqual(settled);
  });

  it("keeps polling after a failed pass, and logs it", async () => {
    const errors: string[] = [];
    // The database refuses reads (an outage); writes still work, so start() can register the key.
    const down = new Proxy(handle.db, {
      get: (target, prop, receiver) =>
        prop === "select"
          ? () => {
              throw new Error("connection refused");
            }
          : Reflect.get(target, prop, receiver),
    });
    const signer = new AuditHeadSigner({
      db: down,
      key,
      log: { ...quiet, error: (_fields, msg) => errors.push(msg) },
      pollMs: 5,
    });
    await signer.start();
    try {
      await expect.poll(() => errors.length, { timeout: 5000 }).toBeGreaterThanOrEqual(2);
    } finally {
      await signer.stop();
    }
    expect(errors[0]).toBe("audit head signing failed");
  });
});
