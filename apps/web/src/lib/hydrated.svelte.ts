/**
 * Whether the page's script runs yet. The server's HTML has no handlers: a button pressed or a
 * choice made before hydration (a slow connection, a slow device) did nothing and was lost
 * without a word. A page keeps its controls disabled until `ready` (Playwright waits for that too).
 */
export function hydration(): { readonly ready: boolean } {
  const state = $state({ ready: false });
  // Effects run only in the browser, once the component is mounted.
  $effect(() => {
    state.ready = true;
  });
  return state;
}
