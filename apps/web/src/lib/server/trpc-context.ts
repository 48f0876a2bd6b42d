/** Builds the tRPC context for a request: the shared database and auth, and the signed-in user. */
import type { Context } from "@rd/api";
import type { RequestEvent } from "@sveltejs/kit";
import { getApp } from "./app.ts";

export function trpcContext(event: Pick<RequestEvent, "locals" | "url">): Context {
  const app = getApp();
  return {
    db: app.database.db,
    auth: app.authFor(event.url),
    user: event.locals.user,
    sessionId: event.locals.sessionId,
    ticketKey: app.ticketKey,
    secretBox: app.secretBox,
    maxObservers: app.env.RD_MAX_OBSERVERS,
    recording: {
      storage: app.recording.store.kind,
      newWrappedKey: () => app.recording.keyring.newRecordingKey().wrapped,
    },
  };
}
