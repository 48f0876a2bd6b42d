/**
 * Test fixture for the API suites: two tenants, each with an admin, a technician, two enrolled
 * agents (through the real enrollment path) and a session; plus callers acting as each user.
 */
import { authUserOf, createAuth, createSecretBox, hashPassword, type AuthUser } from "@rd/auth";
import { importTicketKey } from "@rd/auth/tickets";
import { Agents, type DbHandle, Tenants, Users, type UserRole } from "@rd/db";
import { eq } from "drizzle-orm";
import { createCaller } from "./root.ts";
import { createEnrollmentCode, enrollAgent } from "./services/enrollment.ts";
import type { Context } from "./trpc.ts";

export const FIXTURE_PASSWORD = "fixture-password-1";
export const FIXTURE_SECRET = "fixture-ticket-secret-0123456789abcdef";

export async function createFixture(handle: DbHandle) {
  const db = handle.db;
  const auth = createAuth(db, { secureCookies: false });
  const passwordHash = await hashPassword(FIXTURE_PASSWORD);
  const ticketKey = await importTicketKey(FIXTURE_SECRET);
  const secretBox = createSecretBox(FIXTURE_SECRET, "totp");

  async function tenant(name: string) {
    const [row] = await db.insert(Tenants).values({ name }).returning();
    const user = async (role: UserRole, label: string): Promise<AuthUser> => {
      const email = `${label}@${name.toLowerCase()}.example`;
      const [u] = await db
        .insert(Users)
        .values({ tenantId: row!.id, email, name: label, role, passwordHash })
        .returning();
      return authUserOf(u!);
    };
    const admin = await user("admin", "admin");
    const tech = await user("technician", "tech");
    const agent = async (agentName: string, status: "online" | "offline") => {
      const { code } = await createEnrollmentCode(db, {
        tenantId: row!.id,
        createdBy: admin.id,
        expiresInMinutes: 60,
      });
      const enrolled = await enrollAgent(db, code, {
        name: agentName,
        hostname: `${agentName}.lan`,
        os: "linux",
        version: "0.1.0",
      });
      if (!enrolled.ok) throw new Error(enrolled.message);
      await db.update(Agents).set({ status }).where(eq(Agents.id, enrolled.agentId));
      return enrolled.agentId;
    };
    const onlineAgent = await agent(`${name}-desk`, "online");
    const offlineAgent = await agent(`${name}-laptop`, "offline");
    const as = (u: AuthUser) => createCaller({ db, auth, user: u, ticketKey, secretBox } satisfies Context);
    const { session } = await as(tech).sessions.create({ agentId: onlineAgent });
    return {
      id: row!.id,
      admin,
      tech,
      onlineAgent,
      offlineAgent,
      session,
      asAdmin: as(admin),
      asTech: as(tech),
    };
  }

  const a = await tenant("Alpha");
  const b = await tenant("Beta");
  const anonymous = createCaller({ db, auth, user: null, ticketKey, secretBox });
  return { db, auth, ticketKey, secretBox, a, b, anonymous };
}

export type Fixture = Awaited<ReturnType<typeof createFixture>>;
