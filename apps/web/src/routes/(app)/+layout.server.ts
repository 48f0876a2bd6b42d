import { needsSetup } from "@rd/api";
import { redirect } from "@sveltejs/kit";
import type { LayoutServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";

export const load: LayoutServerLoad = async ({ locals, url }) => {
  if (!locals.user) {
    if (await needsSetup(getApp().database.db)) redirect(303, "/setup");
    redirect(303, `/login?next=${encodeURIComponent(url.pathname + url.search)}`);
  }
  // An admin-issued password to replace, or a second factor the workspace requires: that first.
  if (locals.user.gate && url.pathname !== "/account") redirect(303, "/account");
  return { user: locals.user, csrfToken: locals.csrfToken };
};
