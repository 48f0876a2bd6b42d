/**
 * Full screen for the viewer (Fullscreen API on its root element) and, while in it, Keyboard Lock
 * (Chromium): Esc, Alt+Tab and the like then reach the remote machine, and holding Esc leaves.
 */
type KeyboardLock = { lock?(codes?: string[]): Promise<void>; unlock?(): void };
const keyboardLock = () => (navigator as Navigator & { keyboard?: KeyboardLock }).keyboard;

/** Calls `onChange` whenever `element` enters or leaves full screen; returns the cleanup. */
export function watchFullscreen(element: HTMLElement, onChange: (fullscreen: boolean) => void): () => void {
  const changed = () => {
    const fullscreen = document.fullscreenElement === element;
    if (fullscreen)
      keyboardLock()
        ?.lock?.()
        .catch(() => {});
    else keyboardLock()?.unlock?.();
    onChange(fullscreen);
  };
  document.addEventListener("fullscreenchange", changed);
  return () => {
    document.removeEventListener("fullscreenchange", changed);
    keyboardLock()?.unlock?.();
  };
}

/** Enters or leaves full screen; false when the browser refused. */
export async function toggleFullscreen(element: HTMLElement): Promise<boolean> {
  try {
    if (document.fullscreenElement === element) await document.exitFullscreen();
    else await element.requestFullscreen({ navigationUI: "hide" });
    return true;
  } catch {
    return false;
  }
}

export async function leaveFullscreen(element: HTMLElement): Promise<void> {
  if (document.fullscreenElement === element) await document.exitFullscreen().catch(() => {});
}
