/**
 * Starts single sign-on for an email: finds the workspace whose provider serves its domain, and
 * sends the browser there. The page, not a redirect, does the sending: the CSP's form-action
 * keeps form submissions on this site, so the provider is reached by a plain navigation.
 */
import { ssoProviderForEmail } from "@rd/api";
import { startOidcSignIn } from "@rd/auth";
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";
import { setPendingSso, ssoRedirectUri } from "$lib/server/pending-sso.ts";

export const load: PageServerLoad = async (event) => {
  const email = (event.url.searchParams.get("email") ?? "").trim().slice(0, 254);
  if (!email.includes("@")) error(400, { message: "Enter your work email to sign in with single sign-on." });
  const app = getApp();
  const provider = await ssoProviderForEmail(app.database.db, app.secretBox, email);
  if (!provider) {
    error(404, {
      message:
        "No workspace here signs in with single sign-on for that email's domain. Sign in with your password.",
    });
  }
  try {
    const { url, pending } = await startOidcSignIn({
      ...provider.settings,
      redirectUri: ssoRedirectUri(event.url),
    });
    await setPendingSso(event, { ...pending, tenantId: provider.tenantId });
    return { providerUrl: url.href, issuer: new URL(provider.settings.issuer).host };
  } catch (cause) {
    log.warn({ err: cause, tenantId: provider.tenantId }, "single sign-on could not start");
    error(502, {
      message:
        "Your workspace's identity provider cannot be reached right now. Try again, or sign in with your password.",
    });
  }
};
