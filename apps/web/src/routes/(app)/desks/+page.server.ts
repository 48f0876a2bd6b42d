/**
 * The desks list: one page of the tenant's interview desks, newest first, filtered by the URL's
 * ?state, ?q (the candidate) and ?page; with the templates the "New desk" dialog offers.
 */
import { DESK_STATES, type DeskState } from "@rd/protocol";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

/** Rows per page: a screenful on a laptop. */
const PAGE_SIZE = 25;
/** The API refuses offsets above 1,000,000. */
const MAX_PAGE = Math.floor(1_000_000 / PAGE_SIZE) + 1;

const isDeskState = (value: string | null): value is DeskState =>
  (DESK_STATES as readonly (string | null)[]).includes(value);

export const load: PageServerLoad = async (event) => {
  const params = event.url.searchParams;
  const rawState = params.get("state");
  const state = isDeskState(rawState) ? rawState : undefined;
  const q = (params.get("q") ?? "").trim().slice(0, 100);
  const page = Math.min(Math.max(Number.parseInt(params.get("page") ?? "", 10) || 1, 1), MAX_PAGE);

  const caller = api(event);
  const [result, templates] = await Promise.all([
    call(
      caller.desks.list({
        state,
        search: q || undefined,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
      }),
    ),
    call(caller.desks.templates()),
  ]);
  return {
    desks: result.items,
    total: result.total,
    /** Warm desks waiting ready: a new desk then starts in about a second. */
    warm: result.warm,
    templates,
    filters: { state, q },
    page,
    pageSize: PAGE_SIZE,
  };
};
