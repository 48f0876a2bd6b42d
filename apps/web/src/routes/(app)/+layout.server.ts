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
  // Where the signaling worker is, for the live pages (only the host and scheme are read, which
  // SvelteKit does not track, so navigating does not run this load again).
  return { user: locals.user, csrfToken: locals.csrfToken, signalUrl: getApp().signalUrl(url) };
};
