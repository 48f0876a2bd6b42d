import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { discardEarlySocket, openSignalingEarly, takeEarlySocket } from "./early-socket.ts";

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
});
