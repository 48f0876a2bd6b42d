import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { SignalingClient, SignalingHandlers, SignalingOptions } from "@rd/protocol/signaling-client";
import {
  discardEarlyLink,
  discardEarlySocket,
  helloEarly,
  openSignalingEarly,
  takeEarlyLink,
  takeEarlySocket,
} from "./early-socket.ts";

/** Records what the module does with its sockets; nothing is dialled. */
class FakeSocket {
  static made: FakeSocket[] = [];
  readyState: number = WebSocket.CONNECTING;
  closed = false;
  readonly url: string;
  constructor(url: string) {
    this.url = url;
    FakeSocket.made.push(this);
  }
  close() {
    this.closed = true;
    this.readyState = WebSocket.CLOSED;
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
    discardEarlyLink();
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

  describe("the hello said on it once the ticket is there", () => {
    /** A client that records how it was made and lets the test play the worker's side. */
    function fakeClient() {
      const made: { options?: SignalingOptions; closed: boolean } = { closed: false };
      const create = (options: SignalingOptions) => {
        made.options = options;
        return { close: () => (made.closed = true) } as unknown as SignalingClient;
      };
      return { made, create, worker: () => made.options!.handlers };
    }
    const welcome = { type: "presence/welcome", role: "technician", peerId: "p", heartbeatMs: 1000 } as const;
    const recorder = () => {
      const heard: string[] = [];
      const handlers: SignalingHandlers = {
        onWelcome: () => heard.push("welcome"),
        onMessage: (m) => heard.push(m.type),
        onClose: ({ code }) => heard.push(`close ${code}`),
      };
      return { heard, handlers };
    };

    it("goes out on the early socket with the ticket and a peer token of its own", () => {
      const { made, create } = fakeClient();
      openSignalingEarly("ws://a/ws");
      helloEarly("ws://a/ws", "t1", create);
      expect(made.options!.ticket).toBe("t1");
      expect(made.options!.createSocket!("ws://a/ws")).toBe(FakeSocket.made[0]);
      const link = takeEarlyLink("ws://a/ws", "t1")!;
      expect(link.peer).toBe(made.options!.peer);
      expect(link.peer).toMatch(/^page-/);
      // Once, and only for its ticket and URL.
      expect(takeEarlyLink("ws://a/ws", "t1")).toBeUndefined();
    });

    it("is not made without an early socket, and not handed over for another ticket", () => {
      const { made, create } = fakeClient();
      helloEarly("ws://a/ws", "t1", create);
      expect(made.options).toBeUndefined();
      openSignalingEarly("ws://a/ws");
      helloEarly("ws://a/ws", "t1", create);
      expect(takeEarlyLink("ws://a/ws", "t2")).toBeUndefined();
      expect(takeEarlyLink("ws://b/ws", "t1")).toBeUndefined();
      expect(takeEarlyLink("ws://a/ws", "t1")).toBeDefined();
    });

    it("hands the viewer what it heard before, in order, then everything as it comes", async () => {
      const { create, worker } = fakeClient();
      openSignalingEarly("ws://a/ws");
      helloEarly("ws://a/ws", "t1", create);
      worker().onWelcome(welcome);
      worker().onMessage({ type: "heartbeat/pong", t: 1 });
      const { heard, handlers } = recorder();
      takeEarlyLink("ws://a/ws", "t1")!.attach(handlers);
      // Not while the viewer is still making its side of the link.
      expect(heard).toEqual([]);
      await Promise.resolve();
      expect(heard).toEqual(["welcome", "heartbeat/pong"]);
      worker().onClose({ code: 4001, reason: "x", opened: true });
      expect(heard).toEqual(["welcome", "heartbeat/pong", "close 4001"]);
    });

    it("is closed when nobody takes it soon, or when the session could not be shown", () => {
      const first = fakeClient();
      openSignalingEarly("ws://a/ws");
      helloEarly("ws://a/ws", "t1", first.create);
      vi.advanceTimersByTime(5_000);
      expect(first.made.closed).toBe(true);
      expect(takeEarlyLink("ws://a/ws", "t1")).toBeUndefined();
      const second = fakeClient();
      openSignalingEarly("ws://a/ws");
      helloEarly("ws://a/ws", "t2", second.create);
      discardEarlyLink();
      expect(second.made.closed).toBe(true);
    });
  });
});
