/**
 * Opens the signaling socket when Connect is pressed, while the session is being created, and says
 * hello on it the moment the ticket is there (helloEarly()): the worker checks the ticket while
 * the live page is still being drawn, instead of after (~30 ms later, bench:media). The live
 * page's viewer adopts the link (takeEarlyLink()), and is handed whatever it said meanwhile. A
 * socket or link nobody adopts soon is closed.
 */
import {
  SignalingClient,
  type SignalingHandlers,
  type SignalingOptions,
} from "@rd/protocol/signaling-client";

/** Longer than creating a session and showing the live page takes, shorter than the worker's hello timeout. */
const UNUSED_AFTER_MS = 5_000;

let early: { url: string; socket: WebSocket; timer: ReturnType<typeof setTimeout> } | undefined;

/** A link that said hello early: what it heard is held until the viewer adopts it. */
export interface EarlyLink {
  client: SignalingClient;
  /** The page's peer token its hello carried: the viewer's from now on (a reconnect says the same). */
  peer: string;
  /** The viewer's handlers from now on; what was held is passed on first, in order. */
  attach(handlers: SignalingHandlers): void;
}

let link: { url: string; ticket: string; link: EarlyLink; timer: ReturnType<typeof setTimeout> } | undefined;

/**
 * Says hello with `ticket` on the socket Connect opened, if there is one for `url`. The ticket is
 * then spent: the viewer must take this link (takeEarlyLink()) rather than say hello again.
 */
export function helloEarly(
  url: string,
  ticket: string,
  createClient: (options: SignalingOptions) => SignalingClient = (o) => new SignalingClient(o),
): void {
  discardEarlyLink();
  const socket = takeEarlySocket(url);
  if (!socket) return;
  const held = new HeldHandlers();
  const peer = `page-${crypto.randomUUID()}`;
  const client = createClient({ url, ticket, peer, handlers: held, createSocket: () => socket });
  const timer = setTimeout(discardEarlyLink, UNUSED_AFTER_MS);
  link = { url, ticket, timer, link: { client, peer, attach: (handlers) => held.attach(handlers) } };
}

/** The link that said hello with `ticket` to `url`, once; undefined when there is none. */
export function takeEarlyLink(url: string, ticket: string): EarlyLink | undefined {
  if (!link || link.url !== url || link.ticket !== ticket) return undefined;
  const taken = link.link;
  clearTimeout(link.timer);
  link = undefined;
  return taken;
}

/** Closes an early link nobody took. */
export function discardEarlyLink(): void {
  if (!link) return;
  clearTimeout(link.timer);
  link.link.client.close(1000, "nobody took the link");
  link = undefined;
}

/** Holds a link's events until the viewer attaches, then passes them on, and everything after. */
class HeldHandlers implements SignalingHandlers {
  private held: ((handlers: SignalingHandlers) => void)[] = [];
  private target?: SignalingHandlers;

  onWelcome: SignalingHandlers["onWelcome"] = (welcome) => this.pass((h) => h.onWelcome(welcome));
  onMessage: SignalingHandlers["onMessage"] = (message) => this.pass((h) => h.onMessage(message));
  onClose: SignalingHandlers["onClose"] = (close) => this.pass((h) => h.onClose(close));
  onInvalid: NonNullable<SignalingHandlers["onInvalid"]> = (error) => this.pass((h) => h.onInvalid?.(error));

  /**
   * Passed on in a microtask: the viewer attaches while it is still making its side of the link,
   * and a held close must find it made. No socket event can come in between.
   */
  attach(target: SignalingHandlers) {
    queueMicrotask(() => {
      this.target = target;
      for (const call of this.held.splice(0)) call(target);
    });
  }

  private pass(call: (handlers: SignalingHandlers) => void) {
    if (this.target) call(this.target);
    else this.held.push(call);
  }
}

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
