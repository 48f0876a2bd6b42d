import { needsSetup } from "@rd/api";
import { redirect } from "@sveltejs/kit";
import type { LayoutServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";

export const load: LayoutServerLoad = async ({ url, locals }) => {
  const setup = await needsSetup(getApp().database.db);
  if (setup && url.pathname !== "/setup") redirect(303, "/setup");
  if (!setup && url.pathname === "/setup") redirect(303, locals.user ? "/agents" : "/login");
  if (locals.user) redirect(303, "/agents");
  return { csrfToken: locals.csrfToken };
};
