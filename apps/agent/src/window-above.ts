/**
 * Keeps one of the agent's windows above the others: the session indicator tells the person at
 * the machine that someone is connected (and recording), so an ordinary window they raise must not
 * hide it. (A full-screen window that has the focus still goes above it: EWMH stacks that higher.)
 * xmessage has no such option, so the agent asks the window manager itself, the EWMH way: a
 * _NET_WM_STATE client message adding _NET_WM_STATE_ABOVE for the window, found in the manager's
 * _NET_CLIENT_LIST by its instance name (WM_CLASS; xmessage's `-name`), which each indicator has
 * of its own: its title is the same as the one it replaces, which may still be listed. A window
 * manager without EWMH has no such list, and nothing would honour the request: the window then
 * stacks as any other. The list is looked for until the deadline too: a notice shown while the
 * window manager is still starting (a session autostarting the agent) is asked for once it is up.
 */
import { internAtom, sync, u32s, XConnection } from "./capture/x11/x-connection.ts";

const OP_GET_PROPERTY = 20;
const OP_SEND_EVENT = 25;
/** Predefined atoms (X11 protocol, appendix B). */
const ATOM_WINDOW = 33;
const ATOM_WM_CLASS = 67;
const CLIENT_MESSAGE = 33;
const SUBSTRUCTURE_NOTIFY = 1 << 19;
const SUBSTRUCTURE_REDIRECT = 1 << 20;
const NET_WM_STATE_ADD = 1;
/** The request comes from an application (EWMH "source indication"). */
const SOURCE_APPLICATION = 1;
/** How long to look for the window: it is asked for right after its program starts. */
const DEFAULT_TIMEOUT_MS = 5000;
const POLL_MS = 100;

/** What became of the request: `above`, or why not. */
export type KeepAboveResult = "above" | "no-ewmh" | "not-found";

/**
 * Finds the managed window whose WM_CLASS instance is `instance` on `display` and asks the window
 * manager to keep it above the others. Looks until `timeoutMs` passes (the window maps and is
 * managed a moment after its program starts). Rejects only when the display cannot be reached.
 */
export async function keepAbove(
  display: string,
  xauthority: string | undefined,
  instance: string,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<KeepAboveResult> {
  const x = await XConnection.connect(display, xauthority);
  try {
    const [clientList, wmState, above] = await Promise.all([
      internAtom(x, "_NET_CLIENT_LIST"),
      internAtom(x, "_NET_WM_STATE"),
      internAtom(x, "_NET_WM_STATE_ABOVE"),
    ]);
    const deadline = performance.now() + (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    for (;;) {
      const clients = await windowList(x, clientList);
      const names = await Promise.all((clients ?? []).map((window) => instanceName(x, window)));
      const found = (clients ?? []).filter((_, i) => names[i] === instance);
      for (const window of found) {
        x.send(OP_SEND_EVENT, 0, sendEventBody(x.setup.root, window, wmState, above));
      }
      if (found.length) {
        await sync(x);
        return "above";
      }
      if (performance.now() > deadline || options.signal?.aborted) return clients ? "not-found" : "no-ewmh";
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  } finally {
    x.close();
  }
}

/** The root's list of managed windows (a WINDOW property); undefined when there is none. */
async function windowList(x: XConnection, property: number): Promise<number[] | undefined> {
  const reply = await getProperty(x, x.setup.root, property, ATOM_WINDOW);
  if (!reply || reply.format !== 32) return undefined;
  const windows: number[] = [];
  for (let at = 0; at + 4 <= reply.value.length; at += 4) windows.push(reply.value.readUInt32LE(at));
  return windows;
}

/** The instance half of WM_CLASS ("instance\0class\0"), or undefined. */
async function instanceName(x: XConnection, window: number): Promise<string | undefined> {
  // A window gone since the list was read answers BadWindow: it is not the one looked for.
  const reply = await getProperty(x, window, ATOM_WM_CLASS, 0).catch(() => undefined);
  return reply?.format === 8 ? reply.value.toString("latin1").split("\0")[0] : undefined;
}

/** GetProperty, up to 64 KiB of value; undefined when the window has no such property. */
async function getProperty(
  x: XConnection,
  window: number,
  property: number,
  type: number,
): Promise<{ format: number; value: Buffer } | undefined> {
  const reply = await x.request(OP_GET_PROPERTY, 0, u32s(window, property, type, 0, 16_384));
  const format = reply.readUInt8(1);
  if (format === 0) return undefined;
  const length = reply.readUInt32LE(16) * (format / 8);
  return { format, value: reply.subarray(32, 32 + length) };
}

/** SendEvent to the root: a _NET_WM_STATE client message adding `state` to `window`. */
function sendEventBody(root: number, window: number, wmState: number, state: number): Buffer {
  const event = Buffer.alloc(32);
  event.writeUInt8(CLIENT_MESSAGE, 0);
  event.writeUInt8(32, 1);
  event.writeUInt32LE(window, 4);
  event.writeUInt32LE(wmState, 8);
  event.writeUInt32LE(NET_WM_STATE_ADD, 12);
  event.writeUInt32LE(state, 16);
  event.writeUInt32LE(0, 20);
  event.writeUInt32LE(SOURCE_APPLICATION, 24);
  return Buffer.concat([u32s(root, SUBSTRUCTURE_NOTIFY | SUBSTRUCTURE_REDIRECT), event]);
}
