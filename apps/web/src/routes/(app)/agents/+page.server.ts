/** The agents list: one page of the tenant's agents, filtered by the URL's ?status, ?q and ?page. */
import type { PageServerLoad } from "./$types";
import { api, load as call } from "$lib/server/api.ts";

/** Rows per page: a screenful on a laptop. */
const PAGE_SIZE = 25;
/** The API refuses offsets above 1,000,000. */
const MAX_PAGE = Math.floor(1_000_000 / PAGE_SIZE) + 1;

export const load: PageServerLoad = async (event) => {
  const params = event.url.searchParams;
  const rawStatus = params.get("status");
  const status = rawStatus === "online" || rawStatus === "offline" ? rawStatus : undefined;
  const q = (params.get("q") ?? "").trim().slice(0, 100);
  const page = Math.min(Math.max(Number.parseInt(params.get("page") ?? "", 10) || 1, 1), MAX_PAGE);

  const result = await call(
    api(event).agents.list({
      status,
      search: q || undefined,
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    }),
  );
  return { agents: result.items, total: result.total, filters: { status, q }, page, pageSize: PAGE_SIZE };
};
