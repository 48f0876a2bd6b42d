/** A signaling client for tests: sends messages, and waits for the next message of a type or the close. */
import type { SignalMessage, SignalMessageOf, SignalMessageType } from "@rd/protocol";
import WebSocket from "ws";

export class TestClient {
  readonly ws: WebSocket;
  readonly received: SignalMessage[] = [];
  closed?: { code: number; reason: string };
  private waiters: (() => void)[] = [];
  private readonly opened: Promise<void>;
  /** Set to stop answering the worker's pings, like a peer that hung. */
  silent = false;

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.opened = new Promise((resolve, reject) => {
      this.ws.once("open", () => resolve());
      this.ws.once("error", reject);
    });
    this.ws.on("message", (data, isBinary) => {
      if (isBinary) return;
      const message = JSON.parse(data.toString()) as SignalMessage;
      if (message.type === "heartbeat/ping" && !this.silent)
        this.send({ type: "heartbeat/pong", t: message.t });
      this.received.push(message);
      this.wake();
    });
    this.ws.on("close", (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.wake();
    });
    this.ws.on("error", () => {});
  }

  static async open(url: string): Promise<TestClient> {
    const client = new TestClient(url);
    await client.opened;
    return client;
  }

  send(message: unknown) {
    if (this.ws.readyState === WebSocket.OPEN)
      this.ws.send(typeof message === "string" ? message : JSON.stringify(message));
  }

  sendRaw(data: string | Buffer) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(data);
  }

  /** The next not-yet-taken message of `type` (optionally matching), within `timeoutMs`. */
  async next<T extends SignalMessageType>(
    type: T,
    match: (m: SignalMessageOf<T>) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<SignalMessageOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.received.findIndex((m) => m.type === type && match(m as SignalMessageOf<T>));
      if (index >= 0) return this.received.splice(index, 1)[0] as SignalMessageOf<T>;
      if (this.closed)
        throw new Error(`closed (${this.closed.code} ${this.closed.reason}) while waiting for ${type}`);
      if (Date.now() > deadline) {
        throw new Error(
          `no ${type} within ${timeoutMs} ms; got ${JSON.stringify(this.received.map((m) => m.type))}`,
        );
      }
      await this.wait(deadline - Date.now());
    }
  }

  /** Resolves with the close code once the server closes the socket. */
  async closedWith(timeoutMs = 5000): Promise<{ code: number; reason: string }> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed) {
      if (Date.now() > deadline) throw new Error(`not closed within ${timeoutMs} ms`);
      await this.wait(deadline - Date.now());
    }
    return this.closed;
  }

  close() {
    this.ws.close();
  }

  private wait(ms: number) {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, Math.max(1, ms));
      this.waiters.push(() => (clearTimeout(timer), resolve()));
    });
  }

  private wake() {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w());
  }
}
