/** A session's recordings and its audit trail on their clocks, for the replay page. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => {
  const replay = await call(api(event).recordings.bySession({ sessionId: event.params.id }));
  return { replay };
};
