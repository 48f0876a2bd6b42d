/**
 * The test and benchmark hook: with `?debug=1` in the page URL the viewer publishes its peer
 * connection and senders as `window.__rdViewer`, so Playwright can read getStats() or inject input
 * without the UI. Without the flag nothing is exposed.
 */
import type { ControlMessage, InputMessage } from "@rd/protocol";

export interface ViewerDebugHook {
  /** The live RTCPeerConnection; null until the agent's first offer. */
  readonly pc: RTCPeerConnection | null;
  sendInput(message: InputMessage): boolean;
  sendControl(message: ControlMessage): boolean;
}

declare global {
  interface Window {
    __rdViewer?: ViewerDebugHook;
  }
}

/** Whether a page URL asks for the hook. */
export const wantsDebugHook = (url: URL) => url.searchParams.get("debug") === "1";

/** Installs the hook; the returned function removes it (only if it is still this one). */
export function installDebugHook(hook: ViewerDebugHook): () => void {
  window.__rdViewer = hook;
  return () => {
    if (window.__rdViewer === hook) delete window.__rdViewer;
  };
}
