/**
 * Retention: a tenant keeps recordings for `recording_retention_days`. Expired recordings lose their
 * segments from the store; the row stays (state "deleted") and so do the segments' hashes in the audit
 * chain, so the timeline still verifies and says what was there.
 */
import { type Database, expiredRecordings, markRecordingDeleted, Tenants } from "@rd/db";
import type { Logger } from "@rd/log";
import { eq } from "drizzle-orm";
import type { RecordingStore } from "../contracts.ts";

export async function sweepRetention({
  db,
  store,
  log,
  now = new Date(),
}: {
  db: Database;
  store: RecordingStore;
  log: Logger;
  now?: Date;
}): Promise<number> {
  let deleted = 0;
  for (;;) {
    const batch = await expiredRecordings(db, now);
    if (batch.length === 0) return deleted;
    for (const recording of batch) {
      try {
        await store.deletePrefix(recording.storagePrefix);
      } catch (error) {
        // Left for the next sweep; marking it deleted now would hide segments still stored.
        log.error({ err: error, recordingId: recording.id }, "could not delete an expired recording");
        return deleted;
      }
      const [tenant] = await db
        .select({ days: Tenants.recordingRetentionDays })
        .from(Tenants)
        .where(eq(Tenants.id, recording.tenantId));
      await markRecordingDeleted(db, recording, tenant?.days ?? 0);
      deleted++;
    }
  }
}
