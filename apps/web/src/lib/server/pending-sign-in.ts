/**
 * Between the password and the second factor: a short-lived cookie, sealed with the server secret
 * (AES-256-GCM), that says which user got their password right, where to go next, and until when.
 * No session exists until the second factor is given, so nothing but the code page accepts it.
 */
import type { RequestEvent } from "@sveltejs/kit";
import { getApp } from "./app.ts";

export const PENDING_COOKIE = "rd_pending_sign_in";
/** Time to open the authenticator app and type a code, not to walk away. */
const PENDING_MS = 5 * 60_000;
const AAD = "pending-sign-in";

interface Pending {
  userId: string;
  tenantId: string;
  next: string;
  expiresAt: number;
}

export async function setPendingSignIn(event: RequestEvent, pending: Omit<Pending, "expiresAt">) {
  const app = getApp();
  const value = await app.pendingSignInBox.seal(
    JSON.stringify({ ...pending, expiresAt: Date.now() + PENDING_MS }),
    AAD,
  );
  event.cookies.set(PENDING_COOKIE, value, {
    path: "/login",
    httpOnly: true,
    sameSite: "lax",
    secure: app.secureCookies(event.url),
    maxAge: PENDING_MS / 1000,
  });
}

/** The pending sign-in, or null when there is none, it expired, or the cookie was tampered with. */
export async function pendingSignIn(event: RequestEvent): Promise<Pending | null> {
  const value = event.cookies.get(PENDING_COOKIE);
  if (!value || value.length > 2048) return null;
  try {
    const pending = JSON.parse(await getApp().pendingSignInBox.openText(value, AAD)) as Pending;
    return pending.expiresAt > Date.now() ? pending : null;
  } catch {
    return null;
  }
}

export function clearPendingSignIn(event: RequestEvent) {
  event.cookies.delete(PENDING_COOKIE, { path: "/login" });
}
