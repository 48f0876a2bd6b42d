/**
 * Connect, from wherever it is pressed (the agents list, an agent's page, "Connect again"): makes
 * a session with the agent and opens its live view. The signaling socket opens while the session
 * is being made, and the ticket goes to the live page in memory: one ticket per connection, none
 * in a URL.
 */
import { goto } from "$app/navigation";
import { trpc } from "$lib/trpc.ts";
import { discardEarlySocket, openSignalingEarly } from "./early-socket.ts";
import { handOverLiveView, liveViewOfNew } from "./live-view.ts";
import { preloadLiveView } from "./preload.ts";
import { handOverTicket } from "./ticket-handoff.ts";

export async function connectTo(
  agent: { id: string; name: string },
  signalUrl: string,
  options: { debug?: boolean } = {},
): Promise<void> {
  preloadLiveView();
  openSignalingEarly(signalUrl);
  try {
    const { session, participantId, ticket } = await trpc.sessions.create.mutate({ agentId: agent.id });
    handOverTicket(session.id, ticket);
    handOverLiveView(liveViewOfNew(session, agent.name, participantId));
    await goto(`/sessions/${session.id}/live${options.debug ? "?debug=1" : ""}`);
  } catch (error) {
    discardEarlySocket();
    throw error;
  }
}
