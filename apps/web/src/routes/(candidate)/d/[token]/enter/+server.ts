/**
 * POST /d/<token>/enter: the candidate page's one call. Claims the share link for this browser
 * (with the PIN when it asks for one) and, once the desk runs, returns a signaling ticket for the
 * desk's session; while the desk is starting it says so, and the page asks again. Refusals come back
 * as JSON with a sentence for the candidate; only a bad body (400) and the rate limit (429) are HTTP
 * errors. Answered with no-store: a ticket must never be cached.
 */
import { enterDesk, resolveLink } from "@rd/api";
import { json } from "@sveltejs/kit";
import { z } from "zod";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { countLinkFailure, holderId, linkRateLimit } from "$lib/server/desk-link-guard.ts";

const body = z.strictObject({
  pin: z
    .string({ error: "The PIN must be text" })
    .transform((pin) => pin.replace(/\s/g, ""))
    .pipe(z.string().regex(/^\d{6}$/, { error: "The PIN is 6 digits" }))
    .optional(),
});

const NO_STORE = { "cache-control": "no-store" };

export const POST: RequestHandler = async ({ params, request, cookies, locals, url }) => {
  const app = getApp();
  const wait = linkRateLimit(locals.clientIp);
  if (wait > 0) {
    return json(
      { error: `Too many requests from your network. Wait ${Math.ceil(wait / 1000)} seconds and try again.` },
      { status: 429, headers: { ...NO_STORE, "retry-after": String(Math.ceil(wait / 1000)) } },
    );
  }
  let input: z.infer<typeof body>;
  try {
    input = body.parse(await request.json().catch(() => ({})));
  } catch (error) {
    const message =
      error instanceof z.ZodError ? error.issues.map((i) => i.message).join("; ") : "Bad request";
    return json({ error: message }, { status: 400, headers: NO_STORE });
  }
  const entry = await enterDesk(app.database.db, app.ticketKey, {
    token: params.token,
    holderId: holderId(cookies, app.secureCookies(url)),
    ...(input.pin ? { pin: input.pin } : {}),
  });
  if (!entry.ok) {
    if (entry.reason === "unknown" || entry.reason === "pin_wrong") countLinkFailure(locals.clientIp);
    return json(
      {
        status: "refused",
        reason: entry.reason,
        message: entry.message,
        attemptsLeft: entry.attemptsLeft ?? null,
        retryAt: entry.retryAt?.toISOString() ?? null,
      },
      { headers: NO_STORE },
    );
  }
  const desk = {
    label: entry.desk.candidateLabel,
    state: entry.desk.state,
    expiresAt: entry.desk.expiresAt.toISOString(),
    resolution: entry.desk.template.resolution,
    clipboard: entry.desk.template.clipboard.direction,
    takeover: entry.takeover,
  };
  if (!entry.ready) return json({ status: "preparing", desk }, { headers: NO_STORE });
  return json(
    {
      status: "ready",
      desk,
      sessionId: entry.sessionId,
      participantId: entry.participantId,
      ticket: entry.ticket,
      signalUrl: app.signalUrl(url),
      iceServers: [],
    },
    { headers: NO_STORE },
  );
};

/** GET: the desk's state and expiry, for the page's clock (an extension moves it); claims nothing. */
export const GET: RequestHandler = async ({ params, locals }) => {
  const wait = linkRateLimit(locals.clientIp);
  if (wait > 0) return json({ error: "Too many requests" }, { status: 429, headers: NO_STORE });
  const found = await resolveLink(getApp().database.db, params.token);
  if (!found.ok) {
    if (found.reason === "unknown") countLinkFailure(locals.clientIp);
    return json({ status: "refused", reason: found.reason }, { headers: NO_STORE });
  }
  return json(
    { status: "ok", state: found.desk.state, expiresAt: found.desk.expiresAt.toISOString() },
    { headers: NO_STORE },
  );
};
