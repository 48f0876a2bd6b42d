/** One agent: its details, recent sessions and recent audit events. */
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const load: PageServerLoad = async (event) => {
  // A malformed id would be the API's BAD_REQUEST; to a person it is just a page that does not exist.
  if (!UUID.test(event.params.id)) error(404, { message: "Agent was not found. It may have been removed." });
  const caller = api(event);
  const [agent, events] = await Promise.all([
    call(caller.agents.byId({ id: event.params.id })),
    call(caller.events.byAgent({ agentId: event.params.id, limit: 20 })),
  ]);
  return { agent, events: events.items };
};
