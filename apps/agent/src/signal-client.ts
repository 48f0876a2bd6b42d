/**
 * The agent's one WebSocket to the signaling worker: says hello with the credential (and the
 * sessions it still runs, after a reconnect), answers heartbeats, parses every message with the
 * protocol, and reconnects with exponential backoff and jitter (so a restarted worker is not
 * stormed by every agent at once). Sessions are peer to peer and carry on while the link is down.
 * A refused or revoked credential (4001, 4015) stops it for good: retrying would only hammer the
 * server with a secret it no longer accepts.
 */
import type { Logger } from "@rd/log";
import { CLOSE_CODES, parseSignalMessage, SIGNALING_VERSION, type SignalMessage } from "@rd/protocol";
import WebSocket from "ws";
import type { Credential } from "./credential.ts";

export interface SignalClientEvents {
  onMessage(message: SignalMessage): void;
  /** Welcomed by the worker (first time and after each reconnect). */
  onOnline(): void;
  /** Lost the worker; sessions carry on (their media is peer to peer) and resume on reconnect. */
  onOffline(reason: string): void;
  /** The server refused the credential: enroll again. */
  onRevoked(reason: string): void;
}

/**
 * Reconnect waits: doubling from `first` up to `max`, or up to `inSession` while a session runs
 * (its viewers wait for signaling to come back, and a worker restart must not leave them 30 s
 * without it; a fleet of idle agents still backs off far enough not to storm a restarted worker).
 */
const BACKOFF_MS = { first: 500, max: 30_000, inSession: 3_000 };
/** A silent worker is presumed gone after this many missed heartbeats. */
const MISSED_HEARTBEATS = 2.5;

export class SignalClient {
  private socket?: WebSocket;
  private attempt = 0;
  private stopped = false;
  private retryTimer?: ReturnType<typeof setTimeout>;
  private watchdog?: ReturnType<typeof setTimeout>;
  private heartbeatMs = 15_000;
  private readonly credential: Credential;
  private readonly events: SignalClientEvents;
  private readonly log: Logger;

  private readonly running: () => string[];

  /** `running` names the sessions this agent still runs; a reconnect resumes them. */
  constructor(
    credential: Credential,
    events: SignalClientEvents,
    log: Logger,
    running: () => string[] = () => [],
  ) {
    this.credential = credential;
    this.events = events;
    this.log = log;
    this.running = running;
  }

  start(): void {
    this.connect();
  }

  /** Sends if connected; signaling is request/response, so a message lost while offline is moot. */
  send(message: SignalMessage): boolean {
    if (this.socket?.readyState !== WebSocket.OPEN) return false;
    this.socket.send(JSON.stringify(message));
    return true;
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    clearTimeout(this.watchdog);
    this.socket?.close(CLOSE_CODES.goingAway, "agent stopping");
  }

  private connect() {
    if (this.stopped) return;
    const { signalUrl, agentId, secret } = this.credential;
    const socket = new WebSocket(signalUrl, { perMessageDeflate: false, handshakeTimeout: 10_000 });
    this.socket = socket;
    let welcomed = false;
    socket.on("open", () => {
      const resume = this.running();
      socket.send(
        JSON.stringify({
          type: "presence/hello",
          v: SIGNALING_VERSION,
          auth: { kind: "agent", agentId, secret },
          ...(resume.length ? { resume: resume.slice(0, 64) } : {}),
        }),
      );
    });
    socket.on("message", (data, isBinary) => {
      this.feedWatchdog();
      if (isBinary) return;
      const parsed = parseSignalMessage(data.toString());
      if (!parsed.ok)
        return this.log.warn({ error: parsed.error }, "ignored an invalid message from the worker");
      const message = parsed.message;
      if (message.type === "heartbeat/ping") {
        socket.send(JSON.stringify({ type: "heartbeat/pong", t: message.t }));
        return;
      }
      if (message.type === "presence/welcome") {
        welcomed = true;
        this.attempt = 0;
        this.heartbeatMs = message.heartbeatMs;
        this.feedWatchdog();
        this.log.info({ peerId: message.peerId }, "online");
        this.events.onOnline();
        return;
      }
      this.events.onMessage(message);
    });
    socket.on("error", (error) => {
      this.log.debug({ err: error.message }, "signaling socket error");
    });
    socket.on("close", (code, reasonBuffer) => {
      clearTimeout(this.watchdog);
      if (this.socket !== socket) return;
      const reason = reasonBuffer.toString() || `code ${code}`;
      if (welcomed) this.events.onOffline(reason);
      if (this.stopped) return;
      if (code === CLOSE_CODES.unauthenticated || code === CLOSE_CODES.revoked) {
        this.stopped = true;
        this.events.onRevoked(reason);
        return;
      }
      const delay = this.backoff();
      this.log.warn(
        { code, reason, retryInMs: Math.round(delay) },
        "signaling connection closed; reconnecting",
      );
      this.retryTimer = setTimeout(() => this.connect(), delay);
    });
  }

  /** Full jitter: a random wait between 0 and the exponential bound. */
  private backoff(): number {
    const max = this.running().length > 0 ? BACKOFF_MS.inSession : BACKOFF_MS.max;
    const bound = Math.min(max, BACKOFF_MS.first * 2 ** this.attempt++);
    return BACKOFF_MS.first / 2 + Math.random() * bound;
  }

  private feedWatchdog() {
    clearTimeout(this.watchdog);
    const socket = this.socket;
    this.watchdog = setTimeout(() => {
      this.log.warn({}, "the worker stopped answering; reconnecting");
      socket?.terminate();
    }, this.heartbeatMs * MISSED_HEARTBEATS);
  }
}
