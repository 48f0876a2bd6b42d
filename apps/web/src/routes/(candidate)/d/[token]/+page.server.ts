/**
 * The candidate's page for a share link. Loading it changes nothing (a link preview in a chat app
 * must not take the link): it only says whether the link works. The page's script claims it
 * (enter/+server.ts). The token is in the path, so this page is never cached and sends no Referer.
 */
import { resolveLink } from "@rd/api";
import type { PageServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { countLinkFailure, linkRateLimit } from "$lib/server/desk-link-guard.ts";

export const load: PageServerLoad = async ({ params, locals, setHeaders }) => {
  setHeaders({ "cache-control": "no-store" });
  const wait = linkRateLimit(locals.clientIp);
  if (wait > 0) {
    return {
      refused: {
        reason: "rate_limited",
        message: `Too many requests from your network. Wait ${Math.ceil(wait / 1000)} seconds, then reload this page.`,
      },
    };
  }
  const found = await resolveLink(getApp().database.db, params.token);
  if (!found.ok) {
    if (found.reason === "unknown") countLinkFailure(locals.clientIp);
    return { refused: { reason: found.reason, message: found.message } };
  }
  return {
    refused: null,
    desk: {
      label: found.desk.candidateLabel,
      expiresAt: found.desk.expiresAt.toISOString(),
      pinProtected: found.link.pinProtected,
    },
  };
};
