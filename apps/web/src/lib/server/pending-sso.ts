/**
 * A started single sign-on, between leaving for the provider and coming back: the PKCE verifier,
 * state and nonce with the tenant, sealed with the server secret (AES-256-GCM) in a short-lived
 * HttpOnly cookie scoped to the callback. Lax, not Strict: coming back is a cross-site navigation.
 * It is deleted before the callback is checked, whatever the outcome, so it works once.
 */
import { OIDC_PENDING_MAX_AGE_MS, type PendingOidc } from "@rd/auth";
import type { RequestEvent } from "@sveltejs/kit";
import { getApp } from "./app.ts";

const COOKIE = "rd_sso";
const PATH = "/login/sso/callback";
const AAD = "pending-sso";

export interface PendingSso extends PendingOidc {
  tenantId: string;
}

export async function setPendingSso(event: RequestEvent, pending: PendingSso) {
  const app = getApp();
  event.cookies.set(COOKIE, await app.pendingSignInBox.seal(JSON.stringify(pending), AAD), {
    path: PATH,
    httpOnly: true,
    sameSite: "lax",
    secure: app.secureCookies(event.url),
    maxAge: OIDC_PENDING_MAX_AGE_MS / 1000,
  });
}

/** The pending sign-in (the cookie is gone afterwards), or null when there is none or it was altered. */
export async function takePendingSso(event: RequestEvent): Promise<PendingSso | null> {
  const value = event.cookies.get(COOKIE);
  event.cookies.delete(COOKIE, { path: PATH });
  if (!value || value.length > 4096) return null;
  try {
    return JSON.parse(await getApp().pendingSignInBox.openText(value, AAD)) as PendingSso;
  } catch {
    return null;
  }
}

/** The callback URL registered at the provider: on ORIGIN when set (behind a proxy), else this request's. */
export function ssoRedirectUri(url: URL): string {
  const origin = getApp().env.ORIGIN ?? url.origin;
  return new URL(PATH, origin).href;
}
