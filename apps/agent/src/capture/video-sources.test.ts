/**
 * A display's sources per codec. The encoders are stand-ins (VideoSource's `createEncoder`): what is
 * tested here is which sources exist and which of them run an encoder, not ffmpeg, which
 * video-source.test.ts and peer.test.ts run for real.
 */
import { createLogger } from "@rd/log";
import { describe, expect, it } from "vitest";
import type { ScreenEncoderEvents } from "./screen-encoder.ts";
import type { VideoCodec } from "./video-codec.ts";
import { VideoSources } from "./video-sources.ts";

const log = createLogger("silent", { name: "test" });

/** Sources for a display whose encoders only record that they ran, and at what bitrate. */
function display(preferred: VideoCodec = "h264") {
  const encoders: { kbps: number; events: ScreenEncoderEvents; stopped: boolean }[] = [];
  const sources = new VideoSources({
    target: { platform: "linux", display: ":0" },
    codec: preferred,
    fps: 30,
    maxKbps: 2500,
    log,
    createEncoder: (kbps, events) => {
      const encoder = { kbps, events, stopped: false };
      encoders.push(encoder);
      return { stop: () => void (encoder.stopped = true) };
    },
  });
  return { sources, encoders };
}

const viewer = () => ({ onFrame() {}, onScreen() {} });

describe("VideoSources", () => {
  it.each<[VideoCodec, VideoCodec[]]>([
    ["h264", ["h264", "vp8"]],
    ["vp8", ["vp8", "h264"]],
  ])("lists every codec with the configured one (%s) first", (preferred, order) => {
    expect(display(preferred).sources.codecs).toEqual(order);
  });

  it("makes a codec's source on first use, and hands out the same one after", () => {
    const { sources } = display();
    expect(sources.all()).toEqual([]);
    const vp8 = sources.get("vp8");
    expect(vp8.codec).toBe("vp8");
    expect(sources.get("vp8")).toBe(vp8);
    expect(sources.all()).toEqual([vp8]);
    const h264 = sources.get("h264");
    expect(h264.codec).toBe("h264");
    expect(h264).not.toBe(vp8);
    expect(sources.all()).toEqual([vp8, h264]);
  });

  it("runs an encoder only for a codec someone watches", () => {
    const { sources, encoders } = display("h264");
    const h264 = sources.get("h264");
    const unsubscribe = sources.get("vp8").subscribe(viewer());
    expect(encoders).toHaveLength(1);
    // The frames of the one running encoder reach the VP8 source's viewers, not the H.264 one's.
    encoders[0]!.events.onFrame({ data: Buffer.from([1]), keyframe: true });
    expect(sources.get("vp8").frames).toBe(1);
    expect(h264.frames).toBe(0);
    unsubscribe();
    expect(encoders[0]!.stopped).toBe(true);
  });

  it("gives each codec's encoder the display's settings: the same bitrate ceiling", () => {
    const { sources, encoders } = display();
    sources.get("h264").subscribe(viewer());
    sources.get("vp8").subscribe(viewer());
    expect(encoders.map((e) => e.kbps)).toEqual([2500, 2500]);
    expect(sources.all().map((s) => s.targetKbps)).toEqual([2500, 2500]);
  });

  it("keeps each codec's bitrate to its own viewers' links", () => {
    const { sources } = display();
    sources.get("h264").subscribe({ ...viewer(), kbps: 400 });
    sources.get("vp8").subscribe(viewer());
    expect(sources.get("h264").targetKbps).toBe(400);
    expect(sources.get("vp8").targetKbps).toBe(2500);
  });

  it("stops the encoders of every codec", () => {
    const { sources, encoders } = display();
    sources.get("h264").subscribe(viewer());
    sources.get("vp8").subscribe(viewer());
    sources.stop();
    expect(encoders.map((e) => e.stopped)).toEqual([true, true]);
  });
});
