/**
 * Server hooks: start the app (migrate, seed) once; then, per request, the CSRF check on every
 * state-changing request, and the signed-in user from the session cookie (sliding expiry).
 */
import {
  CSRF_COOKIE,
  CSRF_FIELD,
  CSRF_HEADER,
  csrfTokenMatches,
  generateCsrfToken,
  SESSION_COOKIE,
} from "@rd/auth";
import type { Handle, HandleServerError, ServerInit } from "@sveltejs/kit";
import { getApp, startApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";

export const init: ServerInit = async () => {
  await startApp();
};

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);
/** Endpoints that authenticate without cookies, so a forged cross-site request gains nothing. */
const CSRF_EXEMPT = new Set(["/healthz", "/api/agents/enroll"]);
const FORM_TYPES = /^(application\/x-www-form-urlencoded|multipart\/form-data)/;

async function submittedCsrfToken(request: Request): Promise<string | null> {
  const header = request.headers.get(CSRF_HEADER);
  if (header) return header;
  if (!FORM_TYPES.test(request.headers.get("content-type") ?? "")) return null;
  try {
    const value = (await request.clone().formData()).get(CSRF_FIELD);
    return typeof value === "string" ? value : null;
  } catch {
    return null;
  }
}

export const handle: Handle = async ({ event, resolve }) => {
  const app = getApp();
  const auth = app.authFor(event.url);
  event.locals.clientIp = event.getClientAddress();

  let csrfToken = event.cookies.get(CSRF_COOKIE);
  if (!SAFE_METHODS.has(event.request.method) && !CSRF_EXEMPT.has(event.url.pathname)) {
    if (!csrfTokenMatches(csrfToken, await submittedCsrfToken(event.request))) {
      log.warn(
        { path: event.url.pathname, ip: event.locals.clientIp },
        "refused a request without a valid CSRF token",
      );
      return new Response(
        JSON.stringify({
          error: { message: "Missing or invalid CSRF token. Reload the page and try again." },
        }),
        { status: 403, headers: { "content-type": "application/json" } },
      );
    }
  }
  if (!csrfToken) {
    csrfToken = generateCsrfToken();
    // Readable by our scripts (they echo it), never sent cross-site.
    event.cookies.set(CSRF_COOKIE, csrfToken, {
      path: "/",
      httpOnly: false,
      sameSite: "strict",
      secure: app.secureCookies(event.url),
    });
  }
  event.locals.csrfToken = csrfToken;

  const result = await auth.validate(event.cookies.get(SESSION_COOKIE));
  const cookie = result.refreshCookie ?? result.clearCookie;
  if (cookie) event.cookies.set(cookie.name, cookie.value, { path: "/", ...cookie.attributes });
  event.locals.user = result.user;
  event.locals.sessionId = result.sessionId;

  const response = await resolve(event);
  response.headers.set("x-frame-options", "DENY");
  response.headers.set("referrer-policy", "same-origin");
  response.headers.set("x-content-type-options", "nosniff");
  return response;
};

export const handleError: HandleServerError = ({ error, event, status }) => {
  if (status === 404) return { message: "This page does not exist." };
  log.error({ err: error, path: event.url.pathname }, "unhandled error");
  return { message: "Something went wrong on the server. It has been logged; try again." };
};
