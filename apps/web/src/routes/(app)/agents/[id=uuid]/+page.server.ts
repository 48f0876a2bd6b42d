/** One agent: its details, recent sessions and recent audit events. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => {
  const caller = api(event);
  const [agent, events] = await Promise.all([
    call(caller.agents.byId({ id: event.params.id })),
    call(caller.events.byAgent({ agentId: event.params.id, limit: 20 })),
  ]);
  return { agent, events: events.items };
};
