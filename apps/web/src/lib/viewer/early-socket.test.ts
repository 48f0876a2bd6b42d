import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SignalMessage } from "@rd/protocol";
import type { SignalingHandlers } from "@rd/protocol/signaling-client";
import {
  discardEarlySocket,
  helloEarly,
  openSignalingEarly,
  takeEarlyLink,
  takeEarlySocket,
} from "./early-socket.ts";
import { takeHandedOverTicket } from "./ticket-handoff.ts";

/** Records what the module does with its sockets; nothing is dialled. */
class FakeSocket {
  static made: FakeSocket[] = [];
  readyState: number = WebSocket.CONNECTING;
  closed = false;
  readonly url: string;
  readonly sent: SignalMessage[] = [];
  private readonly listeners = new Map<string, ((event: unknown) => void)[]>();
  constructor(url: string) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  addEventListener(type: string, listener: (event: unknown) => void) {
    this.listeners.set(type, [...(this.listeners.get(type) ?? []), listener]);
  }
  send(text: string) {
    this.sent.push(JSON.parse(text) as SignalMessage);
  }
  close() {
    this.closed = true;
    this.readyState = WebSocket.CLOSED;
  }
  /** What the worker would do: open the socket, send a message, close it. */
  emit(type: string, event: unknown = {}) {
    if (type === "open") this.readyState = WebSocket.OPEN;
    for (const listener of this.listeners.get(type) ?? []) listener(event);
  }
}

const WELCOME = {
  type: "presence/welcome",
  role: "technician",
  peerId: "p1",
  heartbeatMs: 10_000,
  sessionId: "11111111-1111-4111-8111-111111111111",
  participantId: "22222222-2222-4222-8222-222222222222",
} as const;
const STATE = { type: "session/state", sessionId: WELCOME.sessionId, status: "active" } as const;

/** Handlers that write down what reached them, in order. */
function recorder() {
  const heard: string[] = [];
  const handlers: SignalingHandlers = {
    onWelcome: (welcome) => heard.push(welcome.type),
    onMessage: (message) => heard.push(message.type),
    onClose: ({ code }) => heard.push(`close ${code}`),
  };
  return { heard, handlers };
}

describe("the signaling socket Connect opens early", () => {
  beforeEach(() => {
    FakeSocket.made = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", Object.assign(FakeSocket, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 }));
  });
  afterEach(() => {
    discardEarlySocket();
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("is handed to the viewer of the same URL, once", () => {
    openSignalingEarly("ws://a/ws");
    const socket = takeEarlySocket("ws://a/ws") as unknown as FakeSocket;
    expect(socket).toBe(FakeSocket.made[0]);
    expect(socket.closed).toBe(false);
    expect(takeEarlySocket("ws://a/ws")).toBeUndefined();
  });

  it("is closed, not handed over, when the viewer wants another URL or it closed meanwhile", () => {
    openSignalingEarly("ws://a/ws");
    expect(takeEarlySocket("ws://b/ws")).toBeUndefined();
    expect(FakeSocket.made[0]!.closed).toBe(true);
    openSignalingEarly("ws://a/ws");
    FakeSocket.made[1]!.readyState = WebSocket.CLOSED;
    expect(takeEarlySocket("ws://a/ws")).toBeUndefined();
  });

  it("says hello with the ticket as soon as it is there, and holds what arrives until the viewer takes the link", () => {
    openSignalingEarly("ws://a/ws");
    const socket = FakeSocket.made[0]!;
    helloEarly(WELCOME.sessionId, "the-ticket");
    // Not open yet: the hello goes when it opens.
    expect(socket.sent).toEqual([]);
    socket.emit("open");
    expect(socket.sent).toEqual([
      expect.objectContaining({ type: "presence/hello", auth: { kind: "ticket", ticket: "the-ticket" } }),
    ]);
    // The ticket was spent on this hello: the live page is not handed it as well.
    expect(takeHandedOverTicket(WELCOME.sessionId)).toBeUndefined();
    socket.emit("message", { data: JSON.stringify(WELCOME) });
    socket.emit("message", { data: JSON.stringify(STATE) });

    expect(takeEarlySocket("ws://a/ws")).toBeUndefined();
    const early = takeEarlyLink(WELCOME.sessionId, "ws://a/ws")!;
    expect(early.peer).toBe((socket.sent[0] as { peer?: string }).peer);
    const { heard, handlers } = recorder();
    early.attach(handlers);
    expect(heard).toEqual(["presence/welcome", "session/state"]);
    socket.emit("message", { data: JSON.stringify(STATE) });
    socket.emit("close", { code: 4000, reason: "ended" });
    expect(heard).toEqual(["presence/welcome", "session/state", "session/state", "close 4000"]);
    expect(takeEarlyLink(WELCOME.sessionId, "ws://a/ws")).toBeUndefined();
  });

  it("hands the ticket to the live page when there is no usable socket to say hello on", () => {
    helloEarly(WELCOME.sessionId, "ticket-1");
    expect(takeHandedOverTicket(WELCOME.sessionId)).toBe("ticket-1");
    openSignalingEarly("ws://a/ws");
    FakeSocket.made[0]!.close();
    helloEarly(WELCOME.sessionId, "ticket-2");
    expect(takeHandedOverTicket(WELCOME.sessionId)).toBe("ticket-2");
    expect(takeEarlyLink(WELCOME.sessionId, "ws://a/ws")).toBeUndefined();
  });

  it("closes a link that said hello when another session's viewer, or nobody, takes it", () => {
    openSignalingEarly("ws://a/ws");
    helloEarly(WELCOME.sessionId, "ticket-1");
    expect(takeEarlyLink("33333333-3333-4333-8333-333333333333", "ws://a/ws")).toBeUndefined();
    expect(FakeSocket.made[0]!.closed).toBe(true);
    openSignalingEarly("ws://a/ws");
    helloEarly(WELCOME.sessionId, "ticket-2");
    vi.advanceTimersByTime(5_000);
    expect(FakeSocket.made[1]!.closed).toBe(true);
    expect(takeEarlyLink(WELCOME.sessionId, "ws://a/ws")).toBeUndefined();
  });

  it("is closed when the session could not be made, when nobody takes it, or when Connect is pressed again", () => {
    openSignalingEarly("ws://a/ws");
    discardEarlySocket();
    expect(FakeSocket.made[0]!.closed).toBe(true);
    openSignalingEarly("ws://a/ws");
    vi.advanceTimersByTime(5_000);
    expect(FakeSocket.made[1]!.closed).toBe(true);
    expect(takeEarlySocket("ws://a/ws")).toBeUndefined();
    openSignalingEarly("ws://a/ws");
    openSignalingEarly("ws://a/ws");
    expect(FakeSocket.made[2]!.closed).toBe(true);
    expect(FakeSocket.made[3]!.closed).toBe(false);
  });
});
