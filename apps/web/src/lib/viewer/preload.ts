/**
 * Loads the live view's code ahead of Connect, so the click waits only for the session to be
 * created and the page's data, not for scripts as well. Buttons are not links, so SvelteKit's
 * preload on hover does not reach them; they call this on hover and again on click, and an agent's
 * page as soon as its agent is online.
 */
import { preloadCode } from "$app/navigation";

/** Any session id will do: every session's live view runs the same code. */
const ANY_LIVE_VIEW = "/sessions/00000000-0000-4000-8000-000000000000/live";

export function preloadLiveView(): void {
  // Only a head start: if it fails, the navigation loads the code itself and reports any error.
  void preloadCode(ANY_LIVE_VIEW).catch(() => {});
}
