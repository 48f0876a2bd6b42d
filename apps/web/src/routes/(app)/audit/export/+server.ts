/**
 * GET /audit/export — an admin's download of the audit trail as JSON Lines (`rd-audit-export` v1),
 * streamed straight from the database a batch at a time, so any range can be exported. The file is
 * verifiable offline: `npm run audit:verify -- FILE`.
 *
 *   /audit/export?scope=session&id=<session id>
 *   /audit/export?scope=agent&id=<agent id>
 *   /audit/export?scope=desk&id=<desk id>
 *   /audit/export?scope=range&from=<ISO time>&to=<ISO time>     (events with from <= time < to)
 *
 * Endpoints skip the (app) layout's load, so the sign-in and role checks are made here.
 */
import { auditExportInput, describeIssues } from "@rd/api";
import { AuditScopeNotFound, openAuditExport } from "@rd/db";
import { error, redirect } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";

/** Lines are sent in chunks of about this size: few enough writes, little held in memory. */
const CHUNK_BYTES = 64 * 1024;

/** The query string as the shared export input (the same zod schema as `events.export`). */
function scopeOf(query: URLSearchParams) {
  const scope = query.get("scope") ?? (query.has("from") || query.has("to") ? "range" : undefined);
  const id = query.get("id") ?? undefined;
  switch (scope) {
    case "session":
      return { scope, sessionId: id };
    case "agent":
      return { scope, agentId: id };
    case "desk":
      return { scope, deskId: id };
    case "range":
      return { scope, from: query.get("from") ?? undefined, to: query.get("to") ?? undefined };
    default:
      return { scope };
  }
}

export const GET: RequestHandler = async ({ locals, url }) => {
  const user = locals.user;
  if (!user) redirect(303, `/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  if (user.gate) redirect(303, "/account");
  if (user.role !== "admin") error(403, { message: "Only administrators can export the audit log." });

  const input = auditExportInput.safeParse(scopeOf(url.searchParams));
  if (!input.success) {
    const issues = input.error.issues.map((i) => ({
      path: i.path.map(String).join("."),
      message: i.message,
    }));
    error(400, { message: `Invalid export — ${describeIssues(issues)}` });
  }
  let exported;
  try {
    // The chain's head as of now gets a signature first, so the whole export verifies offline
    // instead of ending on events no head covers yet.
    await getApp().auditSigning.signNow(user.tenantId);
    exported = await openAuditExport(getApp().database.db, user.tenantId, input.data);
  } catch (cause) {
    if (cause instanceof AuditScopeNotFound) error(404, { message: cause.message });
    throw cause;
  }

  const lines = exported.lines();
  const encoder = new TextEncoder();
  const body = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        let chunk = "";
        while (chunk.length < CHUNK_BYTES) {
          const next = await lines.next();
          if (next.done) {
            if (chunk) controller.enqueue(encoder.encode(chunk));
            controller.close();
            return;
          }
          chunk += `${next.value}\n`;
        }
        controller.enqueue(encoder.encode(chunk));
      } catch (cause) {
        // Headers are gone already: the download ends early, and the verifier would say where.
        log.error({ err: cause, tenantId: user.tenantId, scope: input.data.scope }, "audit export failed");
        controller.error(cause);
      }
    },
    async cancel() {
      await lines.return(undefined);
    },
  });
  log.info({ tenantId: user.tenantId, userId: user.id, scope: input.data.scope }, "audit export started");
  return new Response(body, {
    headers: {
      "content-type": "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="${exported.filename}"`,
      "cache-control": "no-store",
    },
  });
};
