/** The sessions list: one page of the tenant's sessions, newest first, filtered by ?status and ?page. */
import { SESSION_STATES, type SessionState } from "@rd/protocol";
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

/** Rows per page: a screenful on a laptop. */
const PAGE_SIZE = 25;
/** The API refuses offsets above 1,000,000. */
const MAX_PAGE = Math.floor(1_000_000 / PAGE_SIZE) + 1;

const isSessionState = (value: string | null): value is SessionState =>
  (SESSION_STATES as readonly (string | null)[]).includes(value);

export const load: PageServerLoad = async (event) => {
  const params = event.url.searchParams;
  const rawStatus = params.get("status");
  const status = isSessionState(rawStatus) ? rawStatus : undefined;
  const page = Math.min(Math.max(Number.parseInt(params.get("page") ?? "", 10) || 1, 1), MAX_PAGE);

  const result = await call(
    api(event).sessions.list({ status, limit: PAGE_SIZE, offset: (page - 1) * PAGE_SIZE }),
  );
  return { sessions: result.items, total: result.total, filters: { status }, page, pageSize: PAGE_SIZE };
};
