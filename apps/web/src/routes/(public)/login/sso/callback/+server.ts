/**
 * Where the identity provider sends the browser back: the pending sign-in is taken (once), the
 * callback checked (state, PKCE, the ID token's issuer, audience, nonce, signature), the identity
 * linked to a user, and a dashboard session started. A refusal goes back to the sign-in page with
 * its reason, and into the tenant's audit trail.
 */
import { ssoProviderOf, userForSsoIdentity } from "@rd/api";
import { finishOidcSignIn, recordSignIn } from "@rd/auth";
import { appendEvent, Users } from "@rd/db";
import { eq } from "drizzle-orm";
import { redirect } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { logSecurity } from "$lib/server/log.ts";
import { setPendingSignIn } from "$lib/server/pending-sign-in.ts";
import { takePendingSso, ssoRedirectUri } from "$lib/server/pending-sso.ts";
import { startSession } from "$lib/server/session-cookie.ts";

const refused = (message: string): never => redirect(303, `/login?sso_error=${encodeURIComponent(message)}`);

export const GET: RequestHandler = async (event) => {
  const app = getApp();
  const ip = event.locals.clientIp;
  const pending = await takePendingSso(event);
  if (!pending) return refused("That single sign-on has expired or was already used. Start again.");
  const provider = await ssoProviderOf(app.database.db, app.secretBox, pending.tenantId);
  if (!provider) return refused("Single sign-on is no longer set up for your workspace.");

  const result = await finishOidcSignIn(
    { ...provider.settings, redirectUri: ssoRedirectUri(event.url) },
    pending,
    event.url,
  );
  const linked = result.ok ? await userForSsoIdentity(app.database.db, provider, result) : result;
  if (!linked.ok) {
    const email = result.ok ? result.email : undefined;
    logSecurity({ type: "auth_failed", ip, email, reason: `single sign-on: ${linked.reason}` });
    await appendEvent(app.database.db, {
      tenantId: pending.tenantId,
      type: "auth_failed",
      actor: { type: "system" },
      data: { ip, via: "single sign-on", reason: linked.reason, ...(email ? { email } : {}) },
    });
    return refused(linked.message);
  }
  // Someone who turned on two-factor sign-in here gives their code here too, whatever the provider asked.
  const [user] = await app.database.db
    .select({ totpEnabledAt: Users.totpEnabledAt })
    .from(Users)
    .where(eq(Users.id, linked.userId));
  if (user?.totpEnabledAt) {
    await setPendingSignIn(event, { userId: linked.userId, tenantId: pending.tenantId, next: "/agents" });
    redirect(303, "/login/code");
  }
  await startSession(event, linked.userId);
  await recordSignIn(app.database.db, { id: linked.userId, tenantId: pending.tenantId }, ip);
  redirect(303, "/agents");
};
