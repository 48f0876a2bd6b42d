/**
 * The candidate link endpoints' guard rails: per-address rate limits (every request, and the
 * failures — unknown links, wrong PINs — more tightly, so guessing tokens or PINs from one network
 * goes nowhere), the browser's holder id (an opaque random cookie that says "this browser holds
 * the link"), and a path for logs with the token taken out.
 */
import { randomBytes } from "node:crypto";
import { AttemptLimiter, clientKey } from "@rd/auth";
import type { Cookies } from "@sveltejs/kit";

/** A candidate page asks again every ~0.5 s while its desk starts: 240 a minute leaves room for two tabs. */
const requests = new AttemptLimiter({ maxFailures: 240, windowMs: 60_000 });
/** Unknown links and wrong PINs from one address (the PIN's own lock counts per link besides). */
const failures = new AttemptLimiter({ maxFailures: 20, windowMs: 10 * 60_000 });

export const HOLDER_COOKIE = "rd_desk_holder";

/** Milliseconds to wait before this address may use the link endpoints again; 0 when it may now. */
export function linkRateLimit(ip: string): number {
  const key = clientKey(ip);
  return Math.max(failures.retryAfterMs(key), requests.tryConsume(key));
}

/** A refusal that guessing would produce (an unknown link, a wrong PIN) counts against the address. */
export function countLinkFailure(ip: string): void {
  failures.recordFailure(clientKey(ip));
}

/** This browser's holder id, created on its first visit: HttpOnly, sent only to the link pages. */
export function holderId(cookies: Cookies, secure: boolean): string {
  const known = cookies.get(HOLDER_COOKIE);
  if (known && /^[A-Za-z0-9_-]{32,64}$/.test(known)) return known;
  const id = randomBytes(32).toString("base64url");
  // Lax, not Strict: the candidate arrives by clicking the link in an email (a cross-site navigation).
  cookies.set(HOLDER_COOKIE, id, { path: "/d", httpOnly: true, sameSite: "lax", secure, maxAge: 12 * 3600 });
  return id;
}

/** The request's path for a log line: a share link's token never reaches the logs. */
export function loggablePath(pathname: string): string {
  return pathname.replace(/^\/d\/[^/]+/, "/d/[link]");
}
