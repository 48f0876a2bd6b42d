/** The tenant's users, for admins. */
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => {
  if (event.locals.user?.role !== "admin") error(403, { message: "Only administrators can manage users." });
  return { users: await call(api(event).users.list()) };
};
