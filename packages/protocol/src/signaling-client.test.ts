import type { SignalMessage } from "@rd/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { CLOSE_ABNORMAL, SignalingClient, type SignalingHandlers } from "./signaling-client.ts";

const SESSION = "7b0f2c34-5d6e-4f70-8a91-b2c3d4e5f607";
const TICKET = "t".repeat(40);

/**
 * A WebSocket whose other end is the test: it records what the client sends and lets the test play
 * the worker. (The client against the real worker is covered in viewer-session.test.ts.)
 */
class ScriptedSocket extends EventTarget {
  readyState: number = WebSocket.CONNECTING;
  sent: unknown[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close(code?: number, reason?: string) {
    this.closedWith = { code, reason };
    this.readyState = WebSocket.CLOSED;
  }
  open() {
    this.readyState = WebSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }
  receive(message: SignalMessage | string) {
    const data = typeof message === "string" ? message : JSON.stringify(message);
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
  drop(code: number, reason = "") {
    this.readyState = WebSocket.CLOSED;
    this.dispatchEvent(Object.assign(new Event("close"), { code, reason }));
  }
}

describe("SignalingClient", () => {
  let socket: ScriptedSocket;
  let handlers: { [K in keyof SignalingHandlers]-?: ReturnType<typeof vi.fn> };
  let client: SignalingClient;

  const welcome = (heartbeatMs = 15_000): SignalMessage => ({
    type: "presence/welcome",
    role: "technician",
    peerId: "w-1",
    heartbeatMs,
    sessionId: SESSION,
  });

  beforeEach(() => {
    socket = new ScriptedSocket();
    handlers = { onWelcome: vi.fn(), onMessage: vi.fn(), onClose: vi.fn(), onInvalid: vi.fn() };
    client = new SignalingClient({
      url: "ws://signal.test/ws",
      ticket: TICKET,
      handlers: handlers as unknown as SignalingHandlers,
      createSocket: () => socket as unknown as WebSocket,
    });
  });
  afterEach(() => {
    client.close();
    vi.useRealTimers();
  });

  it("says hello with its ticket as the first message, never in the URL", () => {
    socket.open();
    expect(socket.sent).toEqual([{ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket: TICKET } }]);
  });

  it("says hello at once on a socket that was opened before the client (ahead of its ticket)", () => {
    const early = new ScriptedSocket();
    early.open();
    const adopted = new SignalingClient({
      url: "ws://signal.test/ws",
      ticket: TICKET,
      peer: "page-1",
      handlers: handlers as unknown as SignalingHandlers,
      createSocket: () => early as unknown as WebSocket,
    });
    expect(early.sent).toEqual([
      { type: "presence/hello", v: 1, auth: { kind: "ticket", ticket: TICKET }, peer: "page-1" },
    ]);
    early.receive(welcome());
    expect(handlers.onWelcome).toHaveBeenCalledOnce();
    adopted.close();
  });

  it("sends nothing of its own before the worker has welcomed it", () => {
    socket.open();
    expect(client.send({ type: "session/end", sessionId: SESSION })).toBe(false);
    socket.receive(welcome());
    expect(handlers.onWelcome).toHaveBeenCalledOnce();
    expect(client.send({ type: "session/end", sessionId: SESSION })).toBe(true);
    expect(socket.sent.at(-1)).toEqual({ type: "session/end", sessionId: SESSION });
  });

  it("answers every ping with a pong carrying the same t, and keeps heartbeats to itself", () => {
    socket.open();
    socket.receive(welcome());
    socket.receive({ type: "heartbeat/ping", t: 1234.5 });
    expect(socket.sent.at(-1)).toEqual({ type: "heartbeat/pong", t: 1234.5 });
    expect(handlers.onMessage).not.toHaveBeenCalled();
  });

  it("hands on valid messages and drops invalid ones with a reason", () => {
    socket.open();
    socket.receive(welcome());
    socket.receive({ type: "session/state", sessionId: SESSION, status: "awaiting_consent" });
    socket.receive("{not json");
    socket.receive(JSON.stringify({ type: "signal/offer", sessionId: "nope", sdp: "v=0" }));
    expect(handlers.onMessage).toHaveBeenCalledExactlyOnceWith({
      type: "session/state",
      sessionId: SESSION,
      status: "awaiting_consent",
    });
    expect(handlers.onInvalid).toHaveBeenCalledTimes(2);
  });

  it("reports the worker's close code once, and whether the socket had opened", () => {
    socket.open();
    socket.drop(4013, "session ended");
    socket.drop(4013, "again");
    expect(handlers.onClose).toHaveBeenCalledExactlyOnceWith({
      code: 4013,
      reason: "session ended",
      opened: true,
    });
  });

  it("reports a socket that never opened as abnormal", () => {
    socket.drop(0);
    expect(handlers.onClose).toHaveBeenCalledExactlyOnceWith({
      code: CLOSE_ABNORMAL,
      reason: "",
      opened: false,
    });
  });

  it("gives up on a link that went silent for three heartbeat intervals", () => {
    vi.useFakeTimers();
    socket.open();
    socket.receive(welcome(1_000));
    vi.advanceTimersByTime(2_500);
    expect(handlers.onClose).not.toHaveBeenCalled();
    vi.advanceTimersByTime(1_000);
    expect(handlers.onClose).toHaveBeenCalledExactlyOnceWith(
      expect.objectContaining({ code: CLOSE_ABNORMAL, opened: true }),
    );
    // A script may not send 1006 itself; the socket was closed with a code it may send.
    expect(socket.closedWith?.code).toBe(1000);
  });
});
