/**
 * Sessions for dashboard users, with lucia. The cookie carries a random token; the database keeps
 * only its SHA-256 as the session id, so a leaked table opens no session. Sessions slide: lucia
 * extends one that is past half its life, and `validate()` then says to re-send the cookie.
 */
import { DrizzlePostgreSQLAdapter } from "@lucia-auth/adapter-drizzle";
import { AuthSessions, type Database, Tenants, Users, type UserRole } from "@rd/db";
import { and, eq, ne } from "drizzle-orm";
import { Lucia, TimeSpan, type Cookie } from "lucia";
import { generateToken, sha256Hex } from "./secrets.ts";
import { twoFactorRequired } from "./two-factor-policy.ts";

export const SESSION_COOKIE = "rd_session";

export interface AuthUser {
  id: string;
  tenantId: string;
  email: string;
  name: string;
  role: UserRole;
  disabled: boolean;
  mustChangePassword: boolean;
  twoFactorEnabled: boolean;
  /**
   * What the user must do before anything else: choose their own password (after an admin-issued
   * one), or turn on two-factor sign-in (their tenant requires it). Null when nothing is owed.
   */
  gate: AccountGate | null;
}

export type AccountGate = "change_password" | "enrol_two_factor";

/**
 * The AuthUser of a user row, for code that has the row already (tests, seeding). The tenant's
 * two-factor policy is not consulted: only an owed password change shows as a gate.
 */
export function authUserOf(row: {
  id: string;
  tenantId: string;
  email: string;
  name: string;
  role: UserRole;
  disabledAt?: Date | null;
  mustChangePassword?: boolean;
  totpEnabledAt?: Date | null;
}): AuthUser {
  const mustChangePassword = row.mustChangePassword ?? false;
  return {
    id: row.id,
    tenantId: row.tenantId,
    email: row.email,
    name: row.name,
    role: row.role,
    disabled: row.disabledAt != null,
    mustChangePassword,
    twoFactorEnabled: row.totpEnabledAt != null,
    gate: mustChangePassword ? "change_password" : null,
  };
}

export interface AuthOptions {
  /** Secure cookies: on whenever the dashboard is served over HTTPS. */
  secureCookies: boolean;
  /** Idle lifetime of a session; activity in its second half renews it. */
  sessionLifetime?: TimeSpan;
}

function createLucia(db: Database, options: AuthOptions) {
  return new Lucia(new DrizzlePostgreSQLAdapter(db, AuthSessions, Users), {
    sessionExpiresIn: options.sessionLifetime ?? new TimeSpan(14, "d"),
    sessionCookie: {
      name: SESSION_COOKIE,
      expires: true,
      attributes: { secure: options.secureCookies, sameSite: "lax" },
    },
    getUserAttributes: (row) => ({
      tenantId: row.tenantId,
      email: row.email,
      name: row.name,
      role: row.role,
      disabled: row.disabledAt != null,
      mustChangePassword: row.mustChangePassword,
      twoFactorEnabled: row.totpEnabledAt != null,
    }),
  });
}

declare module "lucia" {
  interface Register {
    Lucia: ReturnType<typeof createLucia>;
    UserId: string;
    // The Drizzle adapter hands back the user row with the table's property (not column) names.
    DatabaseUserAttributes: {
      tenantId: string;
      email: string;
      name: string;
      role: UserRole;
      disabledAt: Date | null;
      mustChangePassword: boolean;
      totpEnabledAt: Date | null;
    };
  }
}

export type Auth = ReturnType<typeof createAuth>;

export function createAuth(db: Database, options: AuthOptions) {
  const lucia = createLucia(db, options);
  return {
    lucia,
    /** Opens a session for a user; the returned cookie is the only place the token exists. */
    async createSession(userId: string): Promise<{ token: string; cookie: Cookie; expiresAt: Date }> {
      const token = generateToken();
      const session = await lucia.createSession(userId, {}, { sessionId: sha256Hex(token) });
      return { token, cookie: lucia.createSessionCookie(token), expiresAt: session.expiresAt };
    },
    /**
     * Resolves a cookie token. `refreshCookie` is set when the session was extended (re-send it);
     * `clearCookie` when the token is dead (expired, unknown, or its user is deactivated).
     */
    async validate(token: string | undefined): Promise<{
      user: AuthUser | null;
      sessionId: string | null;
      refreshCookie?: Cookie;
      clearCookie?: Cookie;
    }> {
      if (!token) return { user: null, sessionId: null };
      const { session, user } = await lucia.validateSession(sha256Hex(token));
      if (!session || !user)
        return { user: null, sessionId: null, clearCookie: lucia.createBlankSessionCookie() };
      if (user.disabled) {
        await lucia.invalidateUserSessions(user.id);
        return { user: null, sessionId: null, clearCookie: lucia.createBlankSessionCookie() };
      }
      const result = { user: { ...user, gate: await gateOf(db, user) }, sessionId: session.id };
      return session.fresh ? { ...result, refreshCookie: lucia.createSessionCookie(token) } : result;
    },
    async invalidateSession(sessionId: string): Promise<Cookie> {
      await lucia.invalidateSession(sessionId);
      return lucia.createBlankSessionCookie();
    },
    invalidateUserSessions: (userId: string) => lucia.invalidateUserSessions(userId),
    /** Signs the user out everywhere but `keepSessionId` (a changed password keeps the page it was changed on). */
    async invalidateOtherSessions(userId: string, keepSessionId: string | null): Promise<void> {
      await db
        .delete(AuthSessions)
        .where(
          keepSessionId
            ? and(eq(AuthSessions.userId, userId), ne(AuthSessions.id, keepSessionId))
            : eq(AuthSessions.userId, userId),
        );
    },
  };
}

async function gateOf(
  db: Database,
  user: { tenantId: string; role: UserRole; mustChangePassword: boolean; twoFactorEnabled: boolean },
): Promise<AccountGate | null> {
  if (user.mustChangePassword) return "change_password";
  if (user.twoFactorEnabled) return null;
  // Only users without a second factor pay for this lookup.
  const [tenant] = await db
    .select({ policy: Tenants.twoFactorPolicy })
    .from(Tenants)
    .where(eq(Tenants.id, user.tenantId));
  return tenant && twoFactorRequired(tenant.policy, user.role) ? "enrol_two_factor" : null;
}
