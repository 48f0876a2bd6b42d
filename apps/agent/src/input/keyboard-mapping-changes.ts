/**
 * Tells when the display's keyboard mapping changed, from the X server itself: every client is
 * sent MappingNotify when the mapping changes (a layout switch, xmodmap, a new XKB keymap), without
 * asking for it. The injector then re-reads the layout once per switch, instead of running xmodmap
 * every two seconds while someone types: each run forked the agent (10–25 ms with the event loop
 * stopped, in the middle of the viewer's keystrokes) and took a core's worth of milliseconds more.
 *
 * Not every MappingNotify is a new layout: the server sends one when the keyboard that typed last
 * changes (the first XTest key after a real keyboard's), with the same keysyms. So the mapping is
 * read here (GetKeyboardMapping, one request) and only a different one is reported.
 */
import { openXWatch, type XConnection, type XWatch } from "../capture/x11/x-connection.ts";

/** The core protocol's MappingNotify event, and its `request` for the keyboard (X11 protocol §Events). */
const MAPPING_NOTIFY = 34;
const MAPPING_KEYBOARD = 1;
const OP_GET_KEYBOARD_MAPPING = 101;

/** Stops watching and closes the connection with `close()`. */
export type KeyboardMappingChanges = XWatch;

/** True for a MappingNotify, about the keyboard, the modifiers or the pointer's buttons. */
export function isMappingNotify(event: Buffer): boolean {
  return (event[0]! & 0x7f) === MAPPING_NOTIFY;
}

/** True for a MappingNotify about the keyboard (not the modifiers or the pointer's buttons). */
export function isKeyboardMappingNotify(event: Buffer): boolean {
  return isMappingNotify(event) && event[4] === MAPPING_KEYBOARD;
}

/**
 * Calls `onChange` after each change of the keyboard mapping of `display`, and `onLost` (once) if
 * the connection to the X server breaks; rejects when the display cannot be reached.
 * `ignored`: keycodes whose changes are not reported (the ones x-typist.ts binds to characters
 * the layout lacks: the layout's own keys are as they were, and re-reading them for every such
 * character ran xmodmap once per new character typed).
 */
export function watchKeyboardMapping(
  display: string,
  xauthority: string | undefined,
  onChange: () => void,
  onLost: (error: Error) => void,
  ignored: () => Iterable<number> = () => [],
): Promise<KeyboardMappingChanges> {
  return openXWatch(display, xauthority, onLost, async (x) => {
    const compared = (reply: Buffer) => withoutKeycodes(reply, x.setup.minKeycode, ignored());
    let mapping = compared(await readKeyboardMapping(x));
    // Reads one at a time, in the order the reports came (the connection answers in order).
    let reading = Promise.resolve();
    x.onEvent = (event) => {
      if (!isKeyboardMappingNotify(event)) return;
      reading = reading.then(async () => {
        // A failed read is a lost connection, which onLost hears of.
        const now = await readKeyboardMapping(x).then(compared, () => undefined);
        if (!now || now.equals(mapping)) return;
        mapping = now;
        onChange();
      });
    };
  });
}

/** The keysyms of a readKeyboardMapping() reply, with those of `keycodes` blanked. */
function withoutKeycodes(reply: Buffer, minKeycode: number, keycodes: Iterable<number>): Buffer {
  const perKeycode = reply[1]!;
  const keysyms = Buffer.from(keysymsOf(reply));
  for (const keycode of keycodes) {
    const at = (keycode - minKeycode) * perKeycode * 4;
    if (at >= 0 && at < keysyms.length) keysyms.fill(0, at, at + perKeycode * 4);
  }
  return keysyms;
}

/**
 * GetKeyboardMapping's reply for every keycode: byte 1 of its header is how many keysyms each
 * keycode has, and the keysyms follow the 32-byte header (keysymsOf()).
 */
export function readKeyboardMapping(x: XConnection): Promise<Buffer> {
  const { minKeycode, maxKeycode } = x.setup;
  const body = Buffer.from([minKeycode, maxKeycode - minKeycode + 1, 0, 0]);
  return x.request(OP_GET_KEYBOARD_MAPPING, 0, body);
}

/** Every keycode's keysyms, from a readKeyboardMapping() reply. */
export function keysymsOf(reply: Buffer): Buffer {
  return reply.subarray(32);
}
