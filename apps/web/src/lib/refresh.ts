/** Keeps a page's data fresh while someone is looking at it: re-runs its loads on a timer and on return. */
import { invalidateAll } from "$app/navigation";
import { navigating } from "$app/state";

/**
 * Calls `refresh` every `intervalMs` while the tab is visible, and once when it becomes visible again.
 * Returns the cleanup, so `$effect(() => refreshWhileVisible(5000))` stops it when the page goes.
 */
export function refreshWhileVisible(
  intervalMs: number,
  refresh: () => Promise<void> = invalidateAll,
): () => void {
  const tick = () => {
    // Never while the page is navigating away: an invalidation then reloads the current page and
    // SvelteKit drops the navigation (Watch on a desk, or Connect, stayed on the page now and then).
    if (document.visibilityState === "visible" && !navigating.to) void refresh();
  };
  const timer = setInterval(tick, intervalMs);
  document.addEventListener("visibilitychange", tick);
  return () => {
    clearInterval(timer);
    document.removeEventListener("visibilitychange", tick);
  };
}
