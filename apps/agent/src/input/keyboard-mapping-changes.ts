/**
 * Tells when the display's keyboard mapping changed, from the X server itself: every client is
 * sent MappingNotify when the mapping changes (a layout switch, xmodmap, a new XKB keymap), without
 * asking for it. The injector then re-reads the layout once per switch, instead of running xmodmap
 * every two seconds while someone types: each run forked the agent (10–25 ms with the event loop
 * stopped, in the middle of the viewer's keystrokes) and took a core's worth of milliseconds more.
 */
import { sync, XConnection } from "../capture/x11/x-connection.ts";

/** The core protocol's MappingNotify event, and its `request` for the keyboard (X11 protocol §Events). */
const MAPPING_NOTIFY = 34;
const MAPPING_KEYBOARD = 1;

export interface KeyboardMappingChanges {
  /** Stops watching and closes the connection. */
  close(): void;
}

/** True for a MappingNotify about the keyboard (not the modifiers or the pointer's buttons). */
export function isKeyboardMappingNotify(event: Buffer): boolean {
  return (event[0]! & 0x7f) === MAPPING_NOTIFY && event[4] === MAPPING_KEYBOARD;
}

/**
 * Calls `onChange` after each change of the keyboard mapping of `display`, and `onLost` (once) if
 * the connection to the X server breaks; rejects when the display cannot be reached.
 */
export async function watchKeyboardMapping(
  display: string,
  xauthority: string | undefined,
  onChange: () => void,
  onLost: (error: Error) => void,
): Promise<KeyboardMappingChanges> {
  const x = await XConnection.connect(display, xauthority);
  let closing = false;
  x.onEvent = (event) => {
    if (isKeyboardMappingNotify(event)) onChange();
  };
  x.onClose = (error) => {
    if (!closing) onLost(error);
  };
  try {
    // The connection is live once the server has answered a request.
    await sync(x);
  } catch (error) {
    closing = true;
    x.close();
    throw error;
  }
  return {
    close() {
      closing = true;
      x.close();
    },
  };
}
