import { createLogger } from "@rd/log";
import { SCREEN_MESSAGES } from "@rd/protocol";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RTCDataChannel } from "werift";
import { TileFeed } from "./tile-feed.ts";
import type { ScreenMode, TileStream, TileViewer } from "./tile-stream.ts";

const log = createLogger("silent", { name: "agent", module: "tile-feed-test" });

/** The parts of werift's channel the feed uses: its state, its events, what it was sent. */
function fakeChannel() {
  const listeners: ((state: string) => void)[] = [];
  const channel = {
    readyState: "connecting",
    bufferedAmount: 0,
    sent: [] as Buffer[],
    stateChanged: { subscribe: (listener: (state: string) => void) => void listeners.push(listener) },
    send(message: Buffer) {
      channel.sent.push(message);
    },
    open() {
      channel.readyState = "open";
      for (const listener of listeners) listener("open");
    },
  };
  return channel;
}

/** A display in tiles mode: who subscribed, and a way to change its mode. */
function fakeStream() {
  const modeListeners = new Set<(mode: ScreenMode) => void>();
  const viewers = new Set<TileViewer>();
  const stream = {
    mode: "tiles" as ScreenMode,
    usable: true,
    viewers,
    onMode(listener: (mode: ScreenMode) => void) {
      modeListeners.add(listener);
      return () => modeListeners.delete(listener);
    },
    subscribe(viewer: TileViewer) {
      viewers.add(viewer);
      return () => viewers.delete(viewer);
    },
  };
  return stream;
}

function feed() {
  const channel = fakeChannel();
  const stream = fakeStream();
  const video = {
    watching: true,
    watch: vi.fn(() => (video.watching = true)),
    unwatch: vi.fn(() => (video.watching = false)),
  };
  const tileFeed = new TileFeed({
    channel: channel as unknown as RTCDataChannel,
    stream: stream as unknown as TileStream,
    video,
    log,
  });
  return { channel, stream, video, tileFeed };
}

describe("a viewer's tile feed at the session's start", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("keeps the video that showed the picture until the tiles' whole picture has left the channel", () => {
    const { channel, stream, video, tileFeed } = feed();
    tileFeed.mediaUp();
    tileFeed.videoFrame(); // the primed encoder's keyframe, held until the media path was up
    channel.open();
    expect(stream.viewers.size).toBe(1);
    const [viewer] = stream.viewers;
    // The whole picture is still being deflated: the video carries on.
    vi.advanceTimersByTime(200);
    expect(video.watching).toBe(true);
    // Its parts are sent; the channel still holds them.
    viewer!.send(Buffer.from([SCREEN_MESSAGES.part, 1]));
    viewer!.send(Buffer.from([SCREEN_MESSAGES.whole, 2]));
    channel.bufferedAmount = 40_000;
    vi.advanceTimersByTime(200);
    expect(video.watching).toBe(true);
    // Out: the video stops.
    channel.bufferedAmount = 0;
    vi.advanceTimersByTime(20);
    expect(video.watching).toBe(false);
    tileFeed.close();
  });

  it("stops that video at once when the viewer reports it lost packets", () => {
    const { channel, video, tileFeed } = feed();
    tileFeed.mediaUp();
    tileFeed.videoFrame();
    channel.open();
    vi.advanceTimersByTime(100);
    expect(video.watching).toBe(true);
    tileFeed.videoTrouble();
    expect(video.watching).toBe(false);
    tileFeed.close();
  });

  it("stops that video after three seconds whatever the tiles do", () => {
    const { channel, video, tileFeed } = feed();
    tileFeed.mediaUp();
    tileFeed.videoFrame();
    channel.open();
    vi.advanceTimersByTime(2980);
    expect(video.watching).toBe(true);
    vi.advanceTimersByTime(20);
    expect(video.watching).toBe(false);
    tileFeed.close();
  });

  it("keeps a cold encoder's video going until its first frame is on its way", () => {
    const { channel, stream, video, tileFeed } = feed();
    tileFeed.mediaUp();
    channel.open();
    expect(stream.viewers.size).toBe(1);
    vi.advanceTimersByTime(200);
    // Whichever picture comes first is shown: the video's has not come yet.
    expect(video.watching).toBe(true);
    tileFeed.videoFrame();
    expect(video.watching).toBe(false);
    // The tiles carry on, and no hand-over message was sent (the viewer is on tiles).
    expect(stream.viewers.size).toBe(1);
    expect(channel.sent).toHaveLength(0);
    tileFeed.close();
  });

  it("gives up on the video's first frame after half a second", () => {
    const { channel, video, tileFeed } = feed();
    tileFeed.mediaUp();
    channel.open();
    vi.advanceTimersByTime(499);
    expect(video.watching).toBe(true);
    vi.advanceTimersByTime(1);
    expect(video.watching).toBe(false);
    tileFeed.close();
  });
});
