/**
 * The live viewer of one session: the session, whether the signed-in user is in it, and (from the
 * layout) where the signaling worker is. No ticket: the page gets its own from the API (or the one
 * Connect or Join just received), so none sits in server-rendered HTML or a cache, and a reload
 * rejoins. A universal load, so that Connect's hand-over (live-view.ts) spares the round trip.
 */
import type { PageLoad } from "./$types";
import { fetchLiveView, takeHandedOverLiveView } from "$lib/viewer/live-view.ts";

export const load: PageLoad = async ({ params, fetch, setHeaders }) => {
  setHeaders({ "cache-control": "no-store" });
  return takeHandedOverLiveView(params.id) ?? (await fetchLiveView(fetch, params.id));
};
