/**
 * The live viewer of one session: the session, whether the signed-in user is in it, and where the
 * signaling worker is. No ticket: the page gets its own from the API (or the one Connect or Join
 * just received), so none sits in server-rendered HTML or a cache, and a reload rejoins.
 */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";
import { getApp } from "$lib/server/app.ts";

export const load: PageServerLoad = async (event) => {
  event.setHeaders({ "cache-control": "no-store" });
  const s = await call(api(event).sessions.byId({ id: event.params.id }));
  return {
    session: {
      id: s.id,
      status: s.status,
      endReason: s.endReason,
      agentId: s.agentId,
      agentName: s.agentName,
      technicianId: s.technicianId,
      deskId: s.deskId,
    },
    /** The signed-in user's place in the session, if they have one (a reload rejoins it). */
    myParticipantId: s.myParticipantId,
    connection: {
      signalUrl: getApp().signalUrl(event.url),
      // Empty for now: host candidates only. STUN/TURN configuration will be added here, server-side.
      iceServers: [] as RTCIceServer[],
    },
  };
};
