/**
 * POST /api/agents/enroll — an agent trades an enrollment code for its id and secret (design flow 1).
 * No cookies are involved, so it is outside the CSRF check; failed codes are limited per IP.
 */
import { enrollAgent } from "@rd/api";
import { AttemptLimiter, clientKey } from "@rd/auth";
import { json } from "@sveltejs/kit";
import { z } from "zod";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";

const input = z.object({
  code: z.string().trim().min(4).max(64),
  name: z.string().trim().min(1).max(100),
  hostname: z.string().trim().min(1).max(255),
  os: z.string().trim().min(1).max(100),
  version: z.string().trim().min(1).max(50),
});

// Codes are 80-bit random; 10 misses per IP per 15 minutes stops guessing without hurting typos.
const failures = new AttemptLimiter({ maxFailures: 10, windowMs: 15 * 60_000 });

const problem = (status: number, message: string) => json({ error: { message } }, { status });

export const POST: RequestHandler = async (event) => {
  const ip = event.locals.clientIp;
  const client = clientKey(ip);
  // Counted as the attempt starts (before any await) and forgiven on success, so parallel guesses
  // cannot all pass the check before the first failure is recorded.
  if (failures.tryConsume(client) > 0) {
    log.warn(
      { ip, event: "enrollment_throttled" },
      "enrollment refused: too many invalid codes from this address",
    );
    return problem(429, "Too many invalid enrollment codes from this address. Wait 15 minutes.");
  }
  let body: unknown;
  try {
    body = await event.request.json();
  } catch {
    return problem(400, "Send a JSON body: { code, name, hostname, os, version }.");
  }
  const parsed = input.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    return problem(400, `Invalid enrollment request — ${issue.path.join(".")}: ${issue.message}`);
  }
  const { code, ...info } = parsed.data;
  const result = await enrollAgent(getApp().database.db, code, info, { ip });
  if (!result.ok) {
    log.warn(
      { ip, event: "enrollment_refused", reason: result.reason, hostname: info.hostname },
      "enrollment refused",
    );
    return problem(400, result.message);
  }
  failures.forgive(client);
  log.info({ agentId: result.agentId, hostname: info.hostname }, "agent enrolled");
  return json(
    { agentId: result.agentId, secret: result.secret, signalUrl: getApp().signalUrl(event.url) },
    { status: 201 },
  );
};
