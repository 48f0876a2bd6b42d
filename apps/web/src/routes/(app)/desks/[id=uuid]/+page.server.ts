/** One interview desk: its template, its share links (never their secrets) and its audit trail. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => {
  const desk = await call(api(event).desks.byId({ id: event.params.id }));
  return { desk };
};
