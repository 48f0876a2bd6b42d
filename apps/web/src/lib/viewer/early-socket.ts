/**
 * Opens the signaling socket when Connect is pressed, while the session is being created and the
 * live page loads, so that the viewer's hello goes out the moment its ticket is there instead of
 * after a socket opened only then. The socket carries nothing until the viewer adopts it and says
 * hello with the ticket; one that is not adopted soon is closed.
 */

/** Longer than creating a session and showing the live page takes, shorter than the worker's hello timeout. */
const UNUSED_AFTER_MS = 5_000;

let early: { url: string; socket: WebSocket; timer: ReturnType<typeof setTimeout> } | undefined;

export function openSignalingEarly(url: string): void {
  discardEarlySocket();
  let socket: WebSocket;
  try {
    socket = new WebSocket(url);
  } catch {
    return; // A bad URL: the viewer reports it when it opens its own.
  }
  const timer = setTimeout(discardEarlySocket, UNUSED_AFTER_MS);
  early = { url, socket, timer };
}

/** The early socket to `url`, once, if it is still opening or open; otherwise undefined. */
export function takeEarlySocket(url: string): WebSocket | undefined {
  const taken = early;
  if (!taken) return undefined;
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
