/**
 * Connect's head start on the signaling link, while the session is being made and the live page
 * loads:
 *
 * - the socket opens when Connect is pressed (openSignalingEarly);
 * - the hello goes the moment sessions.create answers with the ticket (helloEarly), not once the
 *   live page has mounted its viewer: the worker's welcome and the agent's offer then travel while
 *   the page renders (bench:media: the hello left 15-30 ms after the answer, and the welcome took
 *   another 15-20 ms to reach a page busy mounting);
 * - what arrives meanwhile is held, in order, for the viewer that takes the link (takeEarlyLink).
 *
 * A link nobody takes soon is closed. Where there is no usable socket, the ticket is handed to the
 * live page instead (ticket-handoff.ts), which then says hello itself.
 */
import { SignalingClient, type SignalingHandlers } from "@rd/protocol/signaling-client";
import { handOverTicket } from "./ticket-handoff.ts";

/** Longer than creating a session and showing the live page takes, shorter than the worker's hello timeout. */
const UNUSED_AFTER_MS = 5_000;

/** A link that said hello before its viewer existed. */
export interface EarlyLink {
  link: SignalingClient;
  /** The page's peer token the hello carried: the viewer goes on with the same one. */
  peer: string;
  /** Hands everything held so far to `handlers`, in order, and everything after it as it comes. */
  attach(handlers: SignalingHandlers): void;
}

type Early =
  | { url: string; socket: WebSocket; timer: ReturnType<typeof setTimeout> }
  | { url: string; sessionId: string; said: EarlyLink; timer: ReturnType<typeof setTimeout> };

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
  early = { url, socket, timer };
}

/**
 * The ticket for `sessionId` is here: says hello on the early socket now, or, without one that is
 * still opening or open, hands the ticket to the live page.
 */
export function helloEarly(sessionId: string, ticket: string): void {
  const opened = early && "socket" in early ? early : undefined;
  if (!opened || opened.socket.readyState > WebSocket.OPEN) {
    discardEarlySocket();
    return handOverTicket(sessionId, ticket);
  }
  const peer = `page-${crypto.randomUUID()}`;
  const held = new HeldHandlers();
  const link = new SignalingClient({
    url: opened.url,
    ticket,
    peer,
    handlers: held,
    createSocket: () => opened.socket,
  });
  early = {
    url: opened.url,
    sessionId,
    said: { link, peer, attach: (handlers) => held.attach(handlers) },
    timer: opened.timer,
  };
}

/** The early socket to `url`, once, if it is still opening or open and said no hello; otherwise undefined. */
export function takeEarlySocket(url: string): WebSocket | undefined {
  const taken = early;
  if (!taken || !("socket" in taken)) return undefined;
  clearTimeout(taken.timer);
  early = undefined;
  const usable = taken.url === url && taken.socket.readyState <= WebSocket.OPEN;
  if (usable) return taken.socket;
  taken.socket.close();
  return undefined;
}

/** The link that said hello for `sessionId` to `url`, once; otherwise undefined (and it is closed). */
export function takeEarlyLink(sessionId: string, url: string): EarlyLink | undefined {
  const taken = early;
  if (!taken || !("said" in taken)) return undefined;
  clearTimeout(taken.timer);
  early = undefined;
  if (taken.sessionId === sessionId && taken.url === url) return taken.said;
  taken.said.link.close();
  return undefined;
}

/** Closes an early socket or link nobody took (the session could not be made, the page never came). */
export function discardEarlySocket(): void {
  if (!early) return;
  clearTimeout(early.timer);
  if ("socket" in early) early.socket.close();
  else early.said.link.close();
  early = undefined;
}

/** Signaling events kept until a viewer attaches, then passed on as they come. */
class HeldHandlers implements SignalingHandlers {
  private readonly held: ((handlers: SignalingHandlers) => void)[] = [];
  private target?: SignalingHandlers;

  onWelcome: SignalingHandlers["onWelcome"] = (welcome) => this.pass((h) => h.onWelcome(welcome));
  onMessage: SignalingHandlers["onMessage"] = (message) => this.pass((h) => h.onMessage(message));
  onClose: SignalingHandlers["onClose"] = (close) => this.pass((h) => h.onClose(close));
  onInvalid: NonNullable<SignalingHandlers["onInvalid"]> = (error) => this.pass((h) => h.onInvalid?.(error));

  attach(target: SignalingHandlers) {
    this.target = target;
    for (const call of this.held.splice(0)) call(target);
  }

  private pass(call: (handlers: SignalingHandlers) => void) {
    if (this.target) call(this.target);
    else this.held.push(call);
  }
}
