/**
 * GET /recordings/<id>/segments/<seq>: one segment of a recording, opened (decrypted and checked),
 * for the replay player. Only someone who may review the recording's session gets it; for anyone
 * else a refused segment and a missing one get the same 404. A segment that fails its integrity
 * check (AES-GCM tag, or its SHA-256 against the one in the audit chain) is refused with 409, a
 * deleted recording's with 410. Answers single byte ranges; never cached.
 */
import { createHash } from "node:crypto";
import { segmentForReview } from "@rd/api";
import { appendEvent } from "@rd/db";
import { openSegment, RecordingKeyUnwrapFailed, SegmentTampered, segmentKey } from "@rd/recording";
import { json } from "@sveltejs/kit";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { rangeResponse } from "$lib/server/byte-range.ts";
import { log as rootLog } from "$lib/server/log.ts";
import { trpcContext } from "$lib/server/trpc-context.ts";
import { formatDate } from "$lib/format.ts";

const log = rootLog.child({ module: "recordings" });

/** A segment is someone's screen: no cache, shared or private, may keep it. */
const NO_STORE = "private, no-store";

const problem = (status: number, message: string, extra: Record<string, string> = {}) =>
  json({ error: { message, ...extra } }, { status, headers: { "cache-control": NO_STORE } });

const NOT_FOUND = "This recording segment was not found. It may have been removed.";

/** Segment numbers start at 1; anything else names no segment. */
const SEQ = /^[1-9]\d{0,8}$/;

export const GET: RequestHandler = async (event) => {
  const user = event.locals.user;
  if (!user) return problem(401, "Sign in to watch recordings.");
  const seq = SEQ.test(event.params.seq) ? Number(event.params.seq) : 0;
  const found = await segmentForReview(trpcContext(event), event.params.id, seq);
  if (!found.ok) {
    if (found.reason === "deleted") {
      const when = found.deletedAt ? ` on ${formatDate(found.deletedAt)}` : "";
      return problem(
        410,
        `This recording was deleted${when} by the retention policy; its audit trail remains.`,
      );
    }
    return problem(404, NOT_FOUND);
  }

  const context = {
    recordingId: found.recordingId,
    sessionId: found.sessionId,
    tenantId: found.tenantId,
    seq,
    userId: user.id,
  };
  const { recording } = getApp();
  let sealed: Uint8Array;
  try {
    sealed = await recording.store.get(segmentKey(found.tenantId, found.recordingId, found.seq));
  } catch (error) {
    if ((error as { code?: unknown }).code === "not_found") {
      // Indexed (and hashed into the chain) but gone from the store: someone removed it by hand.
      log.error(context, "a recorded segment is missing from the recording store");
      return problem(404, `Segment ${seq} of this recording is missing from the recording store.`);
    }
    log.error({ ...context, err: error }, "could not read a recorded segment from the store");
    return problem(503, "The recording store cannot be reached right now. Try again in a moment.");
  }

  let segment: Uint8Array;
  try {
    segment = await openSegment(
      recording.keyring.unwrap(found.wrappedKey),
      found.recordingId,
      found.seq,
      sealed,
    );
  } catch (error) {
    if (error instanceof RecordingKeyUnwrapFailed) {
      log.error({ ...context, err: error }, "a recording's key could not be unwrapped");
      return problem(
        500,
        "This recording's key cannot be unwrapped by this server: its secret may have changed since the recording was made. It has been logged.",
      );
    }
    if (!(error instanceof SegmentTampered)) throw error;
    return await tampered(context, "its encryption tag does not match");
  }
  // Sealed with the right key and yet not what the chain says was written: refuse it just the same.
  if (createHash("sha256").update(segment).digest("hex") !== found.sha256) {
    return await tampered(context, "its SHA-256 differs from the one in the audit chain");
  }
  return rangeResponse(segment, event.request.headers.get("range"), {
    "content-type": "video/mp4",
    "cache-control": NO_STORE,
  });
};

/** Refuses a segment that is not what was recorded, and puts that in the audit trail. */
async function tampered(
  context: { recordingId: string; sessionId: string; tenantId: string; seq: number; userId: string },
  why: string,
) {
  log.error({ ...context, why }, "a recorded segment failed its integrity check");
  await appendEvent(getApp().database.db, {
    tenantId: context.tenantId,
    type: "recording_segment_refused",
    actor: { type: "system" },
    sessionId: context.sessionId,
    data: { recordingId: context.recordingId, seq: context.seq, why, viewer: context.userId },
  }).catch((error: unknown) => log.error({ err: error }, "could not record the refused segment"));
  return problem(
    409,
    `Segment ${context.seq} of this recording failed its integrity check (${why}): it was changed or damaged after it was recorded, and is not shown.`,
    { code: "segment_tampered" },
  );
}
