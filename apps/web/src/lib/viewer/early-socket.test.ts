import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import {
  discardEarlySocket,
  helloEarly,
  openSignalingEarly,
  takeEarlyLink,
  takeEarlySocket,
} from "./early-socket.ts";

/** Records what the module does with its sockets; nothing is dialled. */
class FakeSocket extends EventTarget {
  static made: FakeSocket[] = [];
  readyState: number = WebSocket.CONNECTING;
  closed = false;
  sent: unknown[] = [];
  readonly url: string;
  constructor(url: string) {
    super();
    this.url = url;
    FakeSocket.made.push(this);
  }
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.closed = true;
    this.readyState = WebSocket.CLOSED;
  }
  open() {
    this.readyState = WebSocket.OPEN;
    this.dispatchEvent(new Event("open"));
  }
  receive(data: string) {
    this.dispatchEvent(new MessageEvent("message", { data }));
  }
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

  it("says the hello as the ticket arrives (once open), keeps what the worker says, and hands both over", () => {
    openSignalingEarly("ws://a/ws");
    const socket = FakeSocket.made[0]!;
    expect(helloEarly("ticket-1")).toBe(true);
    expect(socket.sent).toEqual([]);
    socket.open();
    const [hello] = socket.sent as { type: string; auth: unknown; peer: string }[];
    expect(hello).toMatchObject({ type: "presence/hello", auth: { kind: "ticket", ticket: "ticket-1" } });
    socket.receive('{"type":"presence/welcome"}');
    // A socket with its hello said is not handed out as a bare socket (its ticket is spent).
    expect(takeEarlySocket("ws://a/ws")).toBeUndefined();
    const link = takeEarlyLink("ws://a/ws")!;
    expect(link.socket).toBe(socket as unknown as WebSocket);
    expect(link.peer).toBe(hello!.peer);
    expect(link.backlog).toEqual(['{"type":"presence/welcome"}']);
    // Taken: what comes next is the viewer's, not the backlog's.
    socket.receive('{"type":"signal/offer"}');
    expect(link.backlog).toHaveLength(1);
    expect(takeEarlyLink("ws://a/ws")).toBeUndefined();
  });

  it("leaves the ticket to the live page when there is no socket to say it on, or it closed", () => {
    expect(helloEarly("ticket-1")).toBe(false);
    openSignalingEarly("ws://a/ws");
    FakeSocket.made[0]!.close();
    expect(helloEarly("ticket-1")).toBe(false);
    openSignalingEarly("ws://a/ws");
    expect(helloEarly("ticket-2")).toBe(true);
    FakeSocket.made[1]!.close();
    // Closed after its hello: the viewer opens its own, with a ticket of its own.
    expect(takeEarlyLink("ws://a/ws")).toBeUndefined();
  });
});
