/**
 * Tells when the desktop's clipboard may have changed, from the X server itself: XFIXES reports
 * every change of the CLIPBOARD selection's owner, which every copy makes (an application takes
 * ownership when the user copies, xclip included). The clipboard is then read once per copy instead
 * of by running xclip twice a second for as long as a session lasts.
 */
import {
  internAtom,
  openXWatch,
  queryExtension,
  sync,
  u32s,
  type XWatch,
} from "./capture/x11/x-connection.ts";

/** The XFIXES requests used (XFIXES protocol, version 1). */
const XFIXES_QUERY_VERSION = 0;
const XFIXES_SELECT_SELECTION_INPUT = 2;
/** SetSelectionOwner | SelectionWindowDestroy | SelectionClientClose: any change of owner. */
const ANY_OWNER_CHANGE = 0b111;

/** Stops watching and closes the connection with `close()`. */
export type ClipboardChanges = XWatch;

/**
 * Calls `onChange` after every change of the clipboard's owner, and `onLost` (once) if the
 * connection to the X server breaks; rejects when the server cannot report owner changes.
 */
export function watchClipboardOwner(
  display: string,
  xauthority: string | undefined,
  onChange: () => void,
  onLost: (error: Error) => void,
): Promise<ClipboardChanges> {
  return openXWatch(display, xauthority, onLost, async (x) => {
    const xfixes = await queryExtension(x, "XFIXES");
    if (!xfixes) throw new Error(`the X server on ${display} has no XFIXES extension`);
    await x.request(xfixes.major, XFIXES_QUERY_VERSION, u32s(1, 0));
    const clipboard = await internAtom(x, "CLIPBOARD");
    x.onEvent = (event) => {
      // XFixesSelectionNotify is the extension's first event.
      if ((event[0]! & 0x7f) === xfixes.firstEvent) onChange();
    };
    let refused: Error | undefined;
    x.onError = (error) => (refused = error);
    x.send(xfixes.major, XFIXES_SELECT_SELECTION_INPUT, u32s(x.setup.root, clipboard, ANY_OWNER_CHANGE));
    // A refusal is an X error, and a request without a reply has nothing to fail: wait for it.
    await sync(x);
    if (refused) throw refused;
  });
}
