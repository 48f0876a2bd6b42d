/** The tenant's users, for admins. */
import { error } from "@sveltejs/kit";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";
import { ssoRedirectUri } from "$lib/server/pending-sso.ts";

export const load: PageServerLoad = async (event) => {
  if (event.locals.user?.role !== "admin") error(403, { message: "Only administrators can manage users." });
  const [users, policy, sso] = await Promise.all([
    call(api(event).users.list()),
    call(api(event).users.policy()),
    call(api(event).sso.get()),
  ]);
  return { users, policy, sso, ssoRedirectUri: ssoRedirectUri(event.url) };
};
