/**
 * Server hooks: start the app (migrate, seed) once; then, per request: the Host check (DNS
 * rebinding), the CSRF check on every state-changing request, the signed-in user from the session
 * cookie (sliding expiry), and the security headers (the CSP itself comes from `kit.csp`).
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
import { loggablePath } from "$lib/server/desk-link-guard.ts";
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

/** Features the dashboard never uses are off for it and anything it embeds. */
const PERMISSIONS_POLICY = [
  "camera=()",
  "microphone=()",
  "geolocation=()",
  "payment=()",
  "usb=()",
  "serial=()",
  "hid=()",
  "clipboard-read=(self)",
  "clipboard-write=(self)",
  "fullscreen=(self)",
].join(", ");

export const handle: Handle = async ({ event, resolve }) => {
  const app = getApp();
  event.locals.clientIp = event.getClientAddress();
  const host = event.request.headers.get("host");
  // A page's own load calling the API in-process (SvelteKit's fetch) carries no Host header; it
  // never left this process, so there is no name to check.
  if (!event.isSubRequest && !app.hostAllowed(host)) {
    log.warn(
      { host, ip: event.locals.clientIp },
      "refused a request for a host name this dashboard does not serve",
    );
    return new Response(
      `This dashboard does not answer to the host name "${String(host).slice(0, 100)}". ` +
        "If that name is right, add it to RD_ALLOWED_HOSTS (or set ORIGIN) and restart.",
      { status: 421, headers: { "content-type": "text/plain; charset=utf-8" } },
    );
  }
  const auth = app.authFor(event.url);

  let csrfToken = event.cookies.get(CSRF_COOKIE);
  if (!SAFE_METHODS.has(event.request.method) && !CSRF_EXEMPT.has(event.url.pathname)) {
    if (!csrfTokenMatches(csrfToken, await submittedCsrfToken(event.request))) {
      log.warn(
        { path: loggablePath(event.url.pathname), ip: event.locals.clientIp },
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
  // A candidate's page has its share link's token in its address: no Referer anywhere.
  response.headers.set(
    "referrer-policy",
    event.url.pathname.startsWith("/d/") ? "no-referrer" : "same-origin",
  );
  response.headers.set("x-content-type-options", "nosniff");
  response.headers.set("permissions-policy", PERMISSIONS_POLICY);
  // Only over HTTPS: sent over plain HTTP it would be ignored, or pin a host that has no TLS.
  if (event.url.protocol === "https:") {
    response.headers.set("strict-transport-security", "max-age=31536000; includeSubDomains");
  }
  const csp = response.headers.get("content-security-policy");
  // kit.csp cannot know where the signaling worker is: name exactly that origin for WebSockets.
  if (csp)
    response.headers.set("content-security-policy", csp.replace("ws: wss:", signalOrigin(app, event.url)));
  return response;
};

function signalOrigin(app: ReturnType<typeof getApp>, url: URL): string {
  const signal = new URL(app.signalUrl(url));
  return `${signal.protocol}//${signal.host}`;
}

export const handleError: HandleServerError = ({ error, event, status }) => {
  if (status === 404) return { message: "This page does not exist." };
  // The request's fault, not the server's (an address that is not valid UTF-8, say): telling the
  // person that the server failed and logged it as an error would mislead both them and whoever
  // reads the log.
  if (status >= 400 && status < 500) {
    log.warn({ status, path: loggablePath(event.url.pathname) }, "bad request");
    return {
      message:
        status === 400
          ? "This address is not valid: check that you copied all of it."
          : "This page cannot take that request. Go back and try again.",
    };
  }
  log.error({ err: error, path: loggablePath(event.url.pathname) }, "unhandled error");
  return { message: "Something went wrong on the server. It has been logged; try again." };
};
