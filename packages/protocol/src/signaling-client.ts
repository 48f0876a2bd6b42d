/**
 * One WebSocket to the signaling worker: opens it, says hello with a single-use ticket (and the
 * page's peer token, so the agent knows a reconnect of this page from a new page), answers
 * heartbeats, parses every frame with @rd/protocol before anyone sees it, and notices a link that
 * went silent without closing. It never reconnects itself: a ticket opens one connection, so the
 * viewer session makes a new client with a new ticket when the link should come back.
 */
import {
  parseSignalMessage,
  SIGNALING_VERSION,
  type SignalMessage,
  type SignalMessageOf,
} from "./signaling.ts";

/** The browser's own code for "closed without a close frame" (RFC 6455 §7.1.5), used for a silent link too. */
export const CLOSE_ABNORMAL = 1006;

/**
 * A silent link is declared dead after this many heartbeat intervals without a frame: the worker
 * pings every interval, and itself gives up on a peer after 2.5 intervals.
 */
const SILENCE_INTERVALS = 3;

export interface SignalingHandlers {
  /** The worker accepted the ticket. */
  onWelcome(welcome: SignalMessageOf<"presence/welcome">): void;
  /** Every valid message after the welcome except heartbeats, which the client answers itself. */
  onMessage(message: SignalMessage): void;
  /** The link is gone: the worker's close code and reason, or CLOSE_ABNORMAL. Called once. */
  onClose(close: { code: number; reason: string; opened: boolean }): void;
  /** A frame that is not a valid protocol message; it is dropped. */
  onInvalid?(error: string): void;
}

export interface SignalingOptions {
  url: string;
  ticket: string;
  /** This page's peer-connection instance (protocol `peerToken`). */
  peer?: string;
  handlers: SignalingHandlers;
  /** Makes the socket; the browser's WebSocket unless a test or another runtime says otherwise. */
  createSocket?: (url: string) => WebSocket;
}

export class SignalingClient {
  private readonly socket: WebSocket;
  private readonly handlers: SignalingHandlers;
  private opened = false;
  private welcomed = false;
  private closed = false;
  private lastHeard = 0;
  private watchdog: ReturnType<typeof setInterval> | undefined;

  constructor({ url, ticket, peer, handlers, createSocket = (u) => new WebSocket(u) }: SignalingOptions) {
    this.handlers = handlers;
    this.socket = createSocket(url);
    const hello = () => {
      this.opened = true;
      this.lastHeard = Date.now();
      // Credentials travel in the first message, never in the URL that proxies log.
      this.sendRaw({
        type: "presence/hello",
        v: SIGNALING_VERSION,
        auth: { kind: "ticket", ticket },
        ...(peer ? { peer } : {}),
      });
    };
    // A socket opened ahead of its ticket (the dashboard's Connect) may be open already.
    const openAlready = this.socket.readyState === WebSocket.OPEN;
    if (!openAlready) this.socket.addEventListener("open", hello);
    this.socket.addEventListener("message", (event: MessageEvent) => this.receive(event.data));
    this.socket.addEventListener("close", (event: CloseEvent) =>
      this.finish(event.code || CLOSE_ABNORMAL, event.reason),
    );
    // An error is always followed by a close event, which carries what there is to say.
    this.socket.addEventListener("error", () => {});
    if (openAlready) hello();
  }

  /** Whether messages can be sent now (open and welcomed). */
  get ready(): boolean {
    return !this.closed && this.welcomed && this.socket.readyState === WebSocket.OPEN;
  }

  /** Sends a message of the protocol; false (and nothing sent) when the link is not ready. */
  send(message: SignalMessage): boolean {
    if (!this.ready) return false;
    return this.sendRaw(message);
  }

  /** Closes the link; onClose follows with `code`. */
  close(code = 1000, reason = "viewer closed"): void {
    if (this.closed) return;
    try {
      // A script may only send 1000 or 3000–4999 (WHATWG WebSockets §close()); the caller's code is
      // still the one reported, so a silent link reads as "abnormal".
      const sendable = code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000;
      this.socket.close(sendable, reason.slice(0, 120));
    } catch {
      // Already closing.
    }
    this.finish(code, reason);
  }

  private sendRaw(message: SignalMessage): boolean {
    try {
      this.socket.send(JSON.stringify(message));
      return true;
    } catch {
      return false;
    }
  }

  private receive(data: unknown) {
    if (this.closed) return;
    this.lastHeard = Date.now();
    if (typeof data !== "string") return this.handlers.onInvalid?.("binary frame");
    const parsed = parseSignalMessage(data);
    if (!parsed.ok) return this.handlers.onInvalid?.(parsed.error);
    const message = parsed.message;
    if (message.type === "heartbeat/ping") {
      this.sendRaw({ type: "heartbeat/pong", t: message.t });
      return;
    }
    if (message.type === "heartbeat/pong") return;
    if (message.type === "presence/welcome") {
      this.welcomed = true;
      this.startWatchdog(message.heartbeatMs);
      return this.handlers.onWelcome(message);
    }
    this.handlers.onMessage(message);
  }

  private startWatchdog(heartbeatMs: number) {
    clearInterval(this.watchdog);
    const silenceMs = heartbeatMs * SILENCE_INTERVALS;
    this.watchdog = setInterval(
      () => {
        // A network that vanished leaves TCP waiting for minutes; the heartbeat notices in seconds.
        if (Date.now() - this.lastHeard > silenceMs) {
          this.close(CLOSE_ABNORMAL, "no heartbeat from the signaling server");
        }
      },
      Math.max(250, heartbeatMs / 2),
    );
  }

  private finish(code: number, reason: string) {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.watchdog);
    this.handlers.onClose({ code, reason, opened: this.opened });
  }
}
