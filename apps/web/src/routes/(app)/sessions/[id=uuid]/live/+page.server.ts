/**
 * The live viewer of one session: the session, and — while it is still open — a fresh single-use
 * ticket and where the signaling worker is, for the browser to connect with.
 */
import { isTerminalSessionState } from "@rd/protocol";
import { isHttpError } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";
import { getApp } from "$lib/server/app.ts";

export const load: PageServerLoad = async (event) => {
  // The page carries a ticket: no cache (shared or back/forward) may keep it.
  event.setHeaders({ "cache-control": "no-store" });
  const caller = api(event);
  const id = event.params.id;
  const summary = async () => {
    const s = await call(caller.sessions.byId({ id }));
    return {
      id: s.id,
      status: s.status,
      endReason: s.endReason,
      agentId: s.agentId,
      agentName: s.agentName,
      technicianId: s.technicianId,
    };
  };

  const session = await summary();
  if (isTerminalSessionState(session.status)) return { session, connection: null };
  try {
    const { ticket } = await call(caller.sessions.ticket({ id }));
    return {
      session,
      connection: {
        ticket,
        signalUrl: getApp().signalUrl(event.url),
        // Empty for now: host candidates only. STUN/TURN configuration will be added here, server-side.
        iceServers: [] as RTCIceServer[],
      },
    };
  } catch (cause) {
    // It ended between the two calls (409): show how it ended, as for any finished session.
    if (isHttpError(cause, 409)) return { session: await summary(), connection: null };
    throw cause;
  }
};
