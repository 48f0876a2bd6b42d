import { appendEvent } from "@rd/db";
import { redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";

export const load: PageServerLoad = () => redirect(303, "/agents");

export const actions: Actions = {
  default: async ({ locals, cookies, url }) => {
    if (locals.sessionId && locals.user) {
      const app = getApp();
      const blank = await app.authFor(url).invalidateSession(locals.sessionId);
      cookies.set(blank.name, blank.value, { path: "/", ...blank.attributes });
      await appendEvent(app.database.db, {
        tenantId: locals.user.tenantId,
        type: "user_signed_out",
        actor: { type: "user", id: locals.user.id },
      });
    }
    redirect(303, "/login");
  },
};
