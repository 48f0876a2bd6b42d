/** The signed-in user's own account: password and two-factor sign-in. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

export const load: PageServerLoad = async (event) => ({ account: await call(api(event).account.me()) });
