/**
 * Opens the signaling socket when Connect is pressed, while the session is being created, and says
 * the viewer's hello on it the moment the API hands out the ticket (helloEarly), while the live page
 * is still loading: the worker checks the ticket and the agent makes its offer meanwhile. What the
 * worker says before the live page's viewer takes the link is kept for it, in order. A socket that
 * is not taken soon is closed.
 */
import type { EarlyLink } from "@rd/protocol/signaling-client";
import { SIGNALING_VERSION } from "@rd/protocol";

/** Longer than creating a session and showing the live page takes, shorter than the worker's hello timeout. */
const UNUSED_AFTER_MS = 5_000;

interface Early {
  url: string;
  socket: WebSocket;
  timer: ReturnType<typeof setTimeout>;
  /** Set once the hello is said (or waits for the socket to open). */
  peer?: string;
  backlog: unknown[];
  keep: (event: MessageEvent) => void;
}

let early: Early | undefined;

export function openSignalingEarly(url: string): void {
  discardEarlySocket();
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch {
    return; // A bad URL: the viewer reports it when it opens its own.
  }
  const timer = setTimeout(discardEarlySocket, UNUSED_AFTER_MS);
  const backlog: unknown[] = [];
  const keep = (event: MessageEvent) => backlog.push(event.data);
  early = { url, socket, timer, backlog, keep };
}

/**
 * Says hello with `ticket` on the early socket (now, or as soon as it opens). False when there is
 * no early socket to say it on: the ticket then goes to the live page as before (ticket-handoff.ts).
 * The ticket is single-use: once said here, a viewer that cannot take this link asks for a new one.
 */
export function helloEarly(ticket: string): boolean {
  const link = early;
  if (!link || link.peer || link.socket.readyState > WebSocket.OPEN) return false;
  const peer = `page-${crypto.randomUUID()}`;
  link.peer = peer;
  const hello = () =>
    link.socket.send(
      JSON.stringify({
        type: "presence/hello",
        v: SIGNALING_VERSION,
        auth: { kind: "ticket", ticket },
        peer,
      }),
    );
  link.socket.addEventListener("message", link.keep);
  if (link.socket.readyState === WebSocket.OPEN) hello();
  else link.socket.addEventListener("open", hello, { once: true });
  return true;
}

/**
 * The early link to `url` whose hello was said, once, with what the worker said meanwhile; undefined
 * when there is none or it closed (the viewer then opens its own with a new ticket).
 */
export function takeEarlyLink(url: string): EarlyLink | undefined {
  const link = early;
  if (!link?.peer) return undefined;
  clearTimeout(link.timer);
  early = undefined;
  link.socket.removeEventListener("message", link.keep);
  if (link.url === url && link.socket.readyState <= WebSocket.OPEN)
    return { socket: link.socket, peer: link.peer, backlog: link.backlog };
  link.socket.close();
  return undefined;
}

/** The early socket to `url` (no hello said on it), once, if it is still opening or open; otherwise undefined. */
export function takeEarlySocket(url: string): WebSocket | undefined {
  const taken = early;
  if (!taken || taken.peer) return undefined;
  clearTimeout(taken.timer);
  early = undefined;
  const usable = taken.url === url && taken.socket.readyState <= WebSocket.OPEN;
  if (usable) return taken.socket;
  taken.socket.close();
  return undefined;
}

/** Closes an early socket nobody took (the session could not be created). */
export function discardEarlySocket(): void {
  if (!early) return;
  clearTimeout(early.timer);
  early.socket.close();
  early = undefined;
}
