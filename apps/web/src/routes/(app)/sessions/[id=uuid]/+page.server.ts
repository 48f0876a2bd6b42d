/** One session: who, what, when, and its event timeline. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => {
  const session = await call(api(event).sessions.byId({ id: event.params.id }));
  return { session };
};
