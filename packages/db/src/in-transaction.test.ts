import { eq } from "drizzle-orm";
import { PgTransaction } from "drizzle-orm/pg-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { appendEvent } from "./audit.ts";
import type { DbHandle } from "./client.ts";
import { inTransaction } from "./in-transaction.ts";
import { SessionEvents, Tenants } from "./schema.ts";
import { testDatabases } from "./testing.ts";

describe.each(testDatabases())("work that needs a transaction, on $name", (backend) => {
  let handle: DbHandle;
  let tenantId: string;

  beforeAll(async () => {
    handle = await backend.create();
    const [tenant] = await handle.db.insert(Tenants).values({ name: "Tx" }).returning();
    tenantId = tenant!.id;
  });
  afterAll(() => handle.close());

  it("runs in the caller's transaction as it is, not in a savepoint of it", async () => {
    await handle.db.transaction(async (outer) => {
      await inTransaction(outer, async (tx) => {
        expect(tx).toBe(outer);
      });
    });
  });

  it("opens a transaction of its own when given the database", async () => {
    await inTransaction(handle.db, async (tx) => {
      expect(tx).not.toBe(handle.db);
      expect(tx).toBeInstanceOf(PgTransaction);
    });
  });

  it("commits and rolls back with the caller's transaction: an audit event appended in one that fails is gone", async () => {
    const failed = handle.db.transaction(async (tx) => {
      await appendEvent(tx, { tenantId, type: "session_requested", actor: { type: "system" } });
      throw new Error("the rest of the change failed");
    });
    await expect(failed).rejects.toThrow("the rest of the change failed");
    expect(await handle.db.select().from(SessionEvents).where(eq(SessionEvents.tenantId, tenantId))).toEqual(
      [],
    );
    await handle.db.transaction((tx) =>
      appendEvent(tx, { tenantId, type: "session_requested", actor: { type: "system" } }),
    );
    expect(
      await handle.db.select().from(SessionEvents).where(eq(SessionEvents.tenantId, tenantId)),
    ).toHaveLength(1);
  });
});
