/** One session: who, what, when, and its event timeline. */
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export const load: PageServerLoad = async (event) => {
  // A malformed id would be the API's BAD_REQUEST; to a person it is just a page that does not exist.
  if (!UUID.test(event.params.id))
    error(404, { message: "Session was not found. It may have been removed." });
  const session = await call(api(event).sessions.byId({ id: event.params.id }));
  return { session };
};
