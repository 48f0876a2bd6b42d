/**
 * Single sign-on with a tenant's OpenID Connect provider, the parts outside the protocol: which
 * tenant's provider an email goes to, and which user an identity from it is. A user is linked by
 * the provider's identity (issuer + subject) once known; before that only by a *verified* email of
 * an allowed domain; someone new from an allowed domain is created with the configured role.
 */
import { emailDomainAllowed, generateToken, hashPassword, type OidcSettings, type SecretBox } from "@rd/auth";
import {
  appendEvent,
  type Database,
  emailKey,
  TenantSso,
  UserIdentities,
  type UserRole,
  Users,
} from "@rd/db";
import { and, eq } from "drizzle-orm";

/** What the client secret is sealed with: its tenant, so a sealed secret cannot move to another. */
export const ssoSecretAad = (tenantId: string) => `sso:${tenantId}`;

export interface SsoProvider {
  tenantId: string;
  /** Without `redirectUri`: that is the dashboard's own URL, known per request. */
  settings: Omit<OidcSettings, "redirectUri">;
  allowedDomains: string[];
  defaultRole: UserRole;
  required: boolean;
}

/** The enabled provider of `tenantId`, its secret opened; null when there is none. */
export async function ssoProviderOf(
  db: Database,
  box: SecretBox,
  tenantId: string,
): Promise<SsoProvider | null> {
  const [row] = await db.select().from(TenantSso).where(eq(TenantSso.tenantId, tenantId));
  if (!row?.enabled) return null;
  return {
    tenantId,
    settings: {
      issuer: row.issuer,
      clientId: row.clientId,
      clientSecret: await box.openText(row.clientSecret, ssoSecretAad(tenantId)),
      // Plain http only for a provider on this machine (the library refuses it anywhere else).
      allowInsecureHttp: new URL(row.issuer).protocol === "http:",
    },
    allowedDomains: row.allowedDomains,
    defaultRole: row.defaultRole,
    required: row.required,
  };
}

/**
 * The provider that serves an email's domain. A domain belongs to one tenant's provider at most
 * (saving refuses a second), so the answer is unambiguous.
 */
export async function ssoProviderForEmail(
  db: Database,
  box: SecretBox,
  email: string,
): Promise<SsoProvider | null> {
  const rows = await db
    .select({ tenantId: TenantSso.tenantId, domains: TenantSso.allowedDomains })
    .from(TenantSso)
    .where(eq(TenantSso.enabled, true));
  const match = rows.find((row) => emailDomainAllowed(email, row.domains));
  return match ? ssoProviderOf(db, box, match.tenantId) : null;
}

/** Whether a user of this tenant and role must sign in through the provider (no password). */
export async function ssoRequired(db: Database, tenantId: string, role: UserRole): Promise<boolean> {
  if (role === "admin") return false; // admins keep their password (and 2FA) as a way in
  const [row] = await db
    .select({ required: TenantSso.required, enabled: TenantSso.enabled })
    .from(TenantSso)
    .where(eq(TenantSso.tenantId, tenantId));
  return !!row?.enabled && row.required;
}

export type SsoUserResult =
  { ok: true; userId: string; created: boolean } | { ok: false; message: string; reason: string };

/** The user an identity from `provider` signs in as: linked, found by verified email, or created. */
export async function userForSsoIdentity(
  db: Database,
  provider: SsoProvider,
  identity: { subject: string; email: string; emailVerified: boolean; name: string | null },
): Promise<SsoUserResult> {
  const issuer = provider.settings.issuer;
  const [linked] = await db
    .select({ userId: UserIdentities.userId, tenantId: Users.tenantId, disabledAt: Users.disabledAt })
    .from(UserIdentities)
    .innerJoin(Users, eq(Users.id, UserIdentities.userId))
    .where(and(eq(UserIdentities.issuer, issuer), eq(UserIdentities.subject, identity.subject)));
  // An admin who takes a domain off the list means it for everyone from it, linked or not.
  if (!emailDomainAllowed(identity.email, provider.allowedDomains)) {
    return refuse(
      "domain_not_allowed",
      "Your email's domain is not one this workspace signs in with single sign-on.",
    );
  }
  if (linked) {
    if (linked.tenantId !== provider.tenantId)
      return refuse("another_workspace", "This account belongs to another workspace.");
    if (linked.disabledAt)
      return refuse(
        "deactivated",
        "This account has been deactivated. Ask an administrator to reactivate it.",
      );
    return { ok: true, userId: linked.userId, created: false };
  }
  if (!identity.emailVerified) {
    return refuse(
      "email_not_verified",
      "Your identity provider has not verified your email address, so it cannot be linked to an account here.",
    );
  }
  const email = emailKey(identity.email);
  const [existing] = await db.select().from(Users).where(eq(Users.email, email));
  if (existing && existing.tenantId !== provider.tenantId) {
    return refuse("another_workspace", "This email belongs to an account in another workspace.");
  }
  if (existing?.disabledAt) {
    return refuse("deactivated", "This account has been deactivated. Ask an administrator to reactivate it.");
  }
  return db.transaction(async (tx) => {
    let userId = existing?.id;
    if (!userId) {
      // Someone new from an allowed domain. Their password is random and never shown: they sign in
      // through the provider (an admin can issue a one-time password later if they need one).
      const [created] = await tx
        .insert(Users)
        .values({
          tenantId: provider.tenantId,
          email,
          name: (identity.name ?? email.split("@")[0]!).slice(0, 100),
          role: provider.defaultRole,
          passwordHash: await hashPassword(generateToken()),
        })
        .returning({ id: Users.id, role: Users.role });
      userId = created!.id;
      await appendEvent(tx, {
        tenantId: provider.tenantId,
        type: "user_created",
        actor: { type: "system" },
        data: { userId, email, role: created!.role, via: "single sign-on", issuer },
      });
    }
    await tx.insert(UserIdentities).values({ userId, issuer, subject: identity.subject });
    return { ok: true as const, userId, created: !existing };
  });
}

function refuse(reason: string, message: string): SsoUserResult {
  return { ok: false, reason, message };
}
