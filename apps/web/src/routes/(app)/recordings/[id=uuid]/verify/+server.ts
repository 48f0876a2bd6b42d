/**
 * POST /recordings/<id>/verify: checks every stored segment of a recording against the SHA-256 the
 * audit chain holds for it (packages/recording verify-recording.ts) and names each one that was
 * altered, removed or moved. For whoever may review the recording's session; 404 for anyone else.
 */
import { findReviewableSession } from "@rd/api";
import { appendEvent, Recordings } from "@rd/db";
import { verifyRecording } from "@rd/recording";
import { json } from "@sveltejs/kit";
import { eq } from "drizzle-orm";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";
import { trpcContext } from "$lib/server/trpc-context.ts";

const NOT_FOUND = { error: { message: "This recording was not found." } };

export const POST: RequestHandler = async (event) => {
  if (!event.locals.user)
    return json({ error: { message: "Sign in to verify recordings." } }, { status: 401 });
  const app = getApp();
  const [recording] = await app.database.db
    .select()
    .from(Recordings)
    .where(eq(Recordings.id, event.params.id));
  const ctx = trpcContext(event);
  if (!recording || !(await findReviewableSession(ctx, recording.sessionId)))
    return json(NOT_FOUND, { status: 404 });
  const result = await verifyRecording({
    db: app.database.db,
    store: app.recording.store,
    recording,
    key: app.recording.keyring.unwrap(recording.wrappedKey),
  });
  if (!result.ok) {
    log.warn({ recordingId: recording.id, problems: result.problems }, "a recording failed verification");
    await appendEvent(app.database.db, {
      tenantId: recording.tenantId,
      type: "recording_verify_failed",
      actor: { type: "user", id: event.locals.user.id },
      sessionId: recording.sessionId,
      data: {
        recordingId: recording.id,
        problems: result.problems.slice(0, 50).map((p) => ({ seq: p.seq, reason: p.reason })),
      },
    });
  }
  return json(result, { headers: { "cache-control": "no-store" } });
};
