/**
 * First run: while no user exists, the dashboard offers to create the first workspace (tenant) and
 * its admin. Done once, under a lock, so two browsers racing on the setup page cannot both succeed.
 */
import { hashPassword } from "@rd/auth";
import { appendEvent, type Database, emailKey, Tenants, Users } from "@rd/db";
import { sql } from "drizzle-orm";

export async function needsSetup(db: Database): Promise<boolean> {
  const [row] = await db.select({ n: sql<number>`count(*)::int` }).from(Users);
  return (row?.n ?? 0) === 0;
}

export interface FirstAdmin {
  workspace: string;
  name: string;
  email: string;
  password: string;
}

/** Creates the first tenant and admin; returns null when setup was already done. */
export async function setupFirstAdmin(
  db: Database,
  input: FirstAdmin,
): Promise<{ userId: string; tenantId: string } | null> {
  const passwordHash = await hashPassword(input.password);
  return db.transaction(async (tx) => {
    await tx.execute(sql`select pg_advisory_xact_lock(hashtextextended('rd:first-run-setup', 0))`);
    const [existing] = await tx.select({ n: sql<number>`count(*)::int` }).from(Users);
    if ((existing?.n ?? 0) > 0) return null;
    const [tenant] = await tx.insert(Tenants).values({ name: input.workspace }).returning();
    const [user] = await tx
      .insert(Users)
      .values({
        tenantId: tenant!.id,
        email: emailKey(input.email),
        name: input.name,
        role: "admin",
        passwordHash,
      })
      .returning();
    await appendEvent(tx, {
      tenantId: tenant!.id,
      type: "tenant_created",
      actor: { type: "user", id: user!.id },
      data: { workspace: input.workspace, admin: user!.email },
    });
    return { userId: user!.id, tenantId: tenant!.id };
  });
}
