import { execFile, spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { createLogger } from "@rd/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startVirtualDisplay, type VirtualDisplay } from "../virtual-display.ts";
import type { EncodedFrame, ScreenSize } from "./encoded-frame.ts";
import type { RawInput } from "./ffmpeg-args.ts";
import { ScreenEncoder, type ScreenEncoderEvents } from "./screen-encoder.ts";
import { VIDEO_CODECS, type VideoCodec } from "./video-codec.ts";
import { childEnv, xAuthorityFor } from "../child-env.ts";
import { VideoSource } from "./video-source.ts";
import { DamageCapture, type RawFrame } from "./x11/damage-capture.ts";
import { XScreenReader } from "./x11/x-screen-reader.ts";

const log = createLogger("warn", { name: "test" });

/** The ffmpeg processes capturing `display` (or loaded to), as the system sees them. */
function grabbers(display: string): number[] {
  const found = spawnSync("pgrep", ["-f", `x11grab .* -i ${display} `], { encoding: "utf8" }).stdout;
  return found.split("\n").filter(Boolean).map(Number);
}
const encoders = (display: string) => grabbers(display).length;

/** CPU time a process has used so far, in clock ticks (utime + stime). */
function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]);
}
let desktop: VirtualDisplay;
/** Odd on purpose: the encoders get the screen cropped to even sizes, and must report that size. */
const SCREEN = { width: 649, height: 363 };
const ENCODED = { width: 648, height: 362 };

beforeAll(async () => {
  desktop = await startVirtualDisplay({ ...SCREEN, windowManager: false });
});
afterAll(async () => {
  await desktop?.close();
});

/** A source without spares, so that the ffmpeg processes counted are its encoder's alone. */
function source(codec: VideoCodec, spares = false) {
  return new VideoSource({
    target: { platform: "linux", display: desktop.display },
    codec,
    fps: 30,
    maxKbps: 1000,
    log,
    spares,
  });
}

function collect(video: VideoSource) {
  const frames: EncodedFrame[] = [];
  const screens: ScreenSize[] = [];
  const viewer = {
    onFrame: (f: EncodedFrame) => frames.push(f),
    onScreen: (s: ScreenSize) => screens.push(s),
  };
  const unsubscribe = video.subscribe(viewer);
  return { frames, screens, viewer, unsubscribe };
}

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each(VIDEO_CODECS)("VideoSource on a real X display (%s)", (codec) => {
  it("streams starting with a keyframe, keeps streaming, and reports the encoded screen size", async () => {
    const video = source(codec);
    const { frames, screens, unsubscribe } = collect(video);
    try {
      await until(() => frames.length >= 1);
      expect(frames[0]!.keyframe).toBe(true);
      expect(screens[0]).toEqual(ENCODED);
      expect(video.screenSize).toEqual(ENCODED);
      // A still screen still sends its one frame a second (mpdecimate's heartbeat).
      await until(() => frames.length >= 3, 5000);
    } finally {
      unsubscribe();
    }
  });

  it("answers a keyframe request with a keyframe from a fresh encoder", async () => {
    const video = source(codec);
    const { frames, unsubscribe } = collect(video);
    try {
      await until(() => frames.length >= 1);
      await new Promise((r) => setTimeout(r, 1100)); // past the keyframe rate limit
      const before = frames.length;
      video.requestKeyframe();
      await until(() => frames.slice(before).some((f) => f.keyframe));
      // Only the replacement encoder stays: the old one stopped at the switch-over.
      await until(() => encoders(desktop.display) === 1);
      expect(encoders(desktop.display)).toBe(1);
    } finally {
      unsubscribe();
    }
  });

  it("sends about one frame a second of a static screen, each tiny", async () => {
    const video = source(codec);
    const { frames, unsubscribe } = collect(video);
    try {
      await until(() => frames.length >= 1);
      const start = frames.length;
      await new Promise((r) => setTimeout(r, 3000));
      const idle = frames.slice(start);
      // mpdecimate lets one frame a second through on a screen that does not change.
      expect(idle.length).toBeGreaterThanOrEqual(1);
      expect(idle.length).toBeLessThanOrEqual(8);
      expect(Math.max(...idle.map((f) => f.data.length))).toBeLessThan(2000);
    } finally {
      unsubscribe();
    }
  });

  it("starts the encoder for a session on its way and gives its first viewer the keyframe already made", async () => {
    const video = source(codec);
    video.anticipate();
    await until(() => video.frames >= 1);
    expect(encoders(desktop.display)).toBe(1);
    // The viewer arrives after the encoder's first frame: it gets that keyframe at once, from the
    // same encoder (no restart, so no second ffmpeg).
    const { frames, unsubscribe } = collect(video);
    try {
      expect(frames[0]?.keyframe).toBe(true);
      expect(encoders(desktop.display)).toBe(1);
    } finally {
      unsubscribe();
    }
    await until(() => encoders(desktop.display) === 0);
  });

  it("stops an anticipated encoder when no viewer comes", async () => {
    const video = source(codec);
    video.anticipate();
    await until(() => encoders(desktop.display) === 1);
    // ANTICIPATE_MS (5 s) later, nobody having subscribed.
    await until(() => encoders(desktop.display) === 0, 15_000);
    expect(encoders(desktop.display)).toBe(0);
  });

  it("stops ffmpeg when the last viewer leaves", async () => {
    const video = source(codec);
    const { frames, unsubscribe } = collect(video);
    await until(() => frames.length >= 1);
    expect(encoders(desktop.display)).toBe(1);
    unsubscribe();
    await until(() => encoders(desktop.display) === 0);
    expect(encoders(desktop.display)).toBe(0);
  });
});

describe.each(VIDEO_CODECS)("VideoSource's spare where ffmpeg grabs the screen (%s)", (codec) => {
  it("keeps an ffmpeg loaded and idle behind its gate, starts a viewer on it and loads the next", async () => {
    const video = source(codec, true);
    try {
      video.prepare();
      await until(() => encoders(desktop.display) === 1);
      const [spare] = grabbers(desktop.display);
      // Past loading, it waits at its gate without having opened the screen: no CPU at all.
      await new Promise((r) => setTimeout(r, 1500));
      const ticks = cpuTicks(spare!);
      await new Promise((r) => setTimeout(r, 1000));
      expect(cpuTicks(spare!) - ticks).toBeLessThanOrEqual(1);

      const { frames, screens, unsubscribe } = collect(video);
      await until(() => frames.length >= 1);
      expect(frames[0]!.keyframe).toBe(true);
      expect(screens[0]).toEqual(ENCODED);
      // The spare is the encoder (no second ffmpeg was started for the viewer) and grabs now.
      expect(grabbers(desktop.display)).toEqual([spare]);
      await until(() => frames.length >= 3, 5000);
      // A new spare is loaded a few seconds later, for the next session.
      await until(() => encoders(desktop.display) === 2);

      unsubscribe();
      await until(() => encoders(desktop.display) === 1);
      expect(grabbers(desktop.display)).not.toContain(spare);
    } finally {
      video.stop();
    }
    await until(() => encoders(desktop.display) === 0);
  });
});

/** The encoders fed by the change-driven capture of `desktop` (loaded spares included). */
function rawEncoders(): number {
  const pattern = `rawvideo -pix_fmt bgr0 -video_size ${SCREEN.width}x${SCREEN.height} `;
  const found = spawnSync("pgrep", ["-f", pattern], { encoding: "utf8" }).stdout;
  return found.split("\n").filter(Boolean).length;
}

/** An ffmpeg's command line, as the system sees it. */
const commandLine = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0");
const option = (args: string[], name: string) => args[args.indexOf(name) + 1];

/** Changes the whole of `desktop` ~20 times a second until stop(). */
function churnScreen() {
  let on = true;
  const done = (async () => {
    for (let i = 0; on; i++) {
      const colour = i % 2 ? "#336699" : "#996633";
      await new Promise((r) =>
        execFile("xsetroot", ["-solid", colour], { env: childEnv(desktop.display) }, r),
      );
      await new Promise((r) => setTimeout(r, 30));
    }
  })();
  return {
    stop: () => {
      on = false;
      return done;
    },
  };
}

describe.each(VIDEO_CODECS)("VideoSource with change-driven capture (%s)", (codec) => {
  function changeDriven(grabWhenBusy = false, fps = 30) {
    const capture = new DamageCapture({
      fps,
      log,
      open: () => XScreenReader.open(desktop.display, xAuthorityFor(desktop.display)),
    });
    const video = new VideoSource({
      target: { platform: "linux", display: desktop.display },
      codec,
      fps,
      maxKbps: 1000,
      log,
      capture,
      grabWhenBusy,
    });
    return { capture, video };
  }

  it("keeps a loaded encoder waiting, primes it with the screen, and starts a viewer on its keyframe", async () => {
    const { capture, video } = changeDriven();
    try {
      await capture.open();
      video.prepare();
      // Loaded and waiting before anyone watches.
      await until(() => rawEncoders() === 1);
      await capture.prepare();
      video.prepare();
      expect(rawEncoders()).toBe(1);

      const { frames, screens, unsubscribe } = collect(video);
      await until(() => frames.length >= 1);
      expect(frames[0]!.keyframe).toBe(true);
      expect(screens[0]).toEqual(ENCODED);
      // The spare became the encoder, and a new spare waits for the next keyframe.
      await until(() => rawEncoders() === 2);

      const start = frames.length;
      await new Promise((r) => setTimeout(r, 3000));
      // A quiet screen: the sharpening repeats and a heartbeat a second, each tiny.
      const quiet = frames.slice(start);
      expect(quiet.length).toBeGreaterThanOrEqual(1);
      expect(quiet.length).toBeLessThanOrEqual(6);
      expect(Math.max(...quiet.map((f) => f.data.length))).toBeLessThan(2000);

      unsubscribe();
      // The encoder stops with its last viewer; the spare stays loaded for the next session.
      await until(() => rawEncoders() === 1);
    } finally {
      video.stop();
      capture.close();
    }
    await until(() => rawEncoders() === 0);
  });

  it("with grabWhenBusy, grabs while the screen keeps changing and goes back to capture by change when quiet", async () => {
    const { capture, video } = changeDriven(true);
    try {
      const { frames, unsubscribe } = collect(video);
      await until(() => frames.length >= 1);
      // A quiet screen starts by change.
      expect(video.capturing).toBe("change");

      const churning = churnScreen();
      await until(() => video.capturing === "grab", 10_000);
      // The grabbing encoder took over at its keyframe, and frames kept coming.
      const atSwitch = frames.length;
      await until(() => frames.length >= atSwitch + 10);
      await churning.stop();

      await until(() => video.capturing === "change", 10_000);
      const back = frames.length;
      execFile("xsetroot", ["-solid", "#00aa00"], { env: childEnv(desktop.display) });
      await until(() => frames.length > back + 1);
      expect(frames.filter((f) => f.keyframe).length).toBeGreaterThanOrEqual(3);
      unsubscribe();
    } finally {
      video.stop();
      capture.close();
    }
    await until(() => rawEncoders() === 0 && grabbers(desktop.display).length === 0);
  });

  it("with grabWhenBusy, a session requested while the screen keeps changing is grabbed from its start, every other grab encoded", async () => {
    const { capture, video } = changeDriven(true, 60);
    const churning = churnScreen();
    try {
      // The agent watches the screen while idle (RD_AGENT_CAPTURE=auto), without reading it.
      await capture.watchWhileIdle();
      await until(() => capture.changeRate() >= 10);
      expect(video.capturing).toBeUndefined();
      await video.sessionComing(true);
      // Known busy when the session was requested: the grabbing encoder is already running. It
      // grabs at the agent's rate (60), and converts and encodes every other grab (30 a second).
      expect(video.capturing).toBe("grab");
      const grabbing = grabbers(desktop.display).map(commandLine);
      expect(grabbing.map((args) => option(args, "-framerate"))).toEqual(["60"]);
      expect(option(grabbing[0]!, "-vf")).toMatch(/^select=not\(mod\(n\\,2\)\),scale=.*mpdecimate=max=30,/);
      const { frames, unsubscribe } = collect(video);
      await until(() => frames.length >= 3);
      expect(frames[0]!.keyframe).toBe(true);
      expect(video.capturing).toBe("grab");
      unsubscribe();
    } finally {
      await churning.stop();
      video.stop();
      capture.close();
    }
    await until(() => rawEncoders() === 0 && grabbers(desktop.display).length === 0);
  });

  it("primes a spare fed by change: its keyframe is told of at once and handed out only if activated", async () => {
    const capture = new DamageCapture({
      fps: 30,
      log,
      open: () => XScreenReader.open(desktop.display, xAuthorityFor(desktop.display)),
    });
    const primed: EncodedFrame[] = [];
    const handedOut: EncodedFrame[] = [];
    let encoder: ScreenEncoder | undefined;
    try {
      await capture.open();
      await capture.prepare();
      encoder = new ScreenEncoder(
        { platform: "linux", display: desktop.display },
        { codec, fps: 30, kbps: 1000 },
        { onScreen() {}, onFrame: (f) => handedOut.push(f), onExit() {}, onPrimed: (f) => primed.push(f) },
        log,
        capture,
        capture.size,
      );
      const taken = capture.take()!;
      encoder.prime(taken.frame, taken.handOuts);
      await until(() => primed.length === 1);
      expect(primed[0]!.keyframe).toBe(true);
      expect(handedOut).toEqual([]);
    } finally {
      encoder?.stop();
      capture.close();
    }
  });

  it("with grabWhenBusy, shows a busy screen as it was, encoded by the spare fed by change, until the grab's first frame", async () => {
    // Stand-in encoders, told when to produce: which of the two is first is the point here.
    const made: {
      standby?: RawInput | "gated";
      events: ScreenEncoderEvents;
      activated: boolean;
      stopped: boolean;
      primedWith?: RawFrame;
    }[] = [];
    const capture = new DamageCapture({
      fps: 60,
      log,
      open: () => XScreenReader.open(desktop.display, xAuthorityFor(desktop.display)),
    });
    const video = new VideoSource({
      target: { platform: "linux", display: desktop.display },
      codec,
      fps: 60,
      maxKbps: 1000,
      log,
      capture,
      grabWhenBusy: true,
      spares: true,
      createEncoder: (_kbps, events, standby) => {
        const encoder = { standby, events, activated: false, stopped: false } as (typeof made)[number];
        made.push(encoder);
        return {
          stop: () => void (encoder.stopped = true),
          activate: () => void (encoder.activated = true),
          prime: (frame) => void (encoder.primedWith = frame),
        };
      },
    });
    const churning = churnScreen();
    const key = (text: string): EncodedFrame => ({ data: Buffer.from(text), keyframe: true });
    try {
      await capture.open();
      await capture.watchWhileIdle();
      video.prepare();
      const [byChange, grab] = made;
      expect([typeof byChange?.standby, grab?.standby]).toEqual(["object", "gated"]);
      await until(() => capture.changeRate() >= 10);

      await video.sessionComing(true);
      // The grab started at once; the spare fed by change was handed the screen as it is now.
      expect(grab!.activated).toBe(true);
      expect(byChange!.activated).toBe(false);
      expect(byChange!.primedWith).toMatchObject({ width: SCREEN.width, height: SCREEN.height });
      byChange!.events.onPrimed!(key("the screen as it was"));

      const { frames, unsubscribe } = collect(video);
      expect(frames.map((f) => f.data.toString())).toEqual(["the screen as it was"]);
      grab!.events.onFrame(key("the grab's first"));
      grab!.events.onFrame({ data: Buffer.from("the grab's next"), keyframe: false });
      // A stand-in later than the grab's own first frame would only go back in time.
      byChange!.events.onPrimed!(key("too late"));
      expect(frames.map((f) => f.data.toString())).toEqual([
        "the screen as it was",
        "the grab's first",
        "the grab's next",
      ]);

      // Primed once, the spare cannot be primed again: kept while the session runs (it would still
      // start on a keyframe), and replaced by a fresh one a while after the session.
      video.prepare(false);
      expect(byChange!.stopped).toBe(false);
      unsubscribe();
      expect(byChange!.stopped).toBe(false);
      await until(() => byChange!.stopped, 5000);
      expect(made.filter((e) => e.standby !== "gated" && !e.stopped)).toHaveLength(1);
    } finally {
      made[0]?.primedWith?.release();
      await churning.stop();
      video.stop();
      capture.close();
    }
  });

  it("with grabWhenBusy, a session requested on a quiet screen starts by change, a spare of each kind loaded", async () => {
    const { capture, video } = changeDriven(true);
    try {
      await capture.open();
      await capture.watchWhileIdle();
      video.prepare();
      // Two spares wait, one for each way a session may start: fed by change, and at its gate.
      await until(() => rawEncoders() === 1 && grabbers(desktop.display).length === 1);
      // Quiet: nothing changed in the last second.
      await until(() => capture.changeRate() === 0);
      await video.sessionComing(true);
      expect(video.capturing).toBeUndefined();
      const { frames, unsubscribe } = collect(video);
      await until(() => frames.length >= 1);
      expect(frames[0]!.keyframe).toBe(true);
      expect(video.capturing).toBe("change");
      unsubscribe();
    } finally {
      video.stop();
      capture.close();
    }
    await until(() => rawEncoders() === 0);
  });
});

describe("VideoSource's encoder start", () => {
  it("passes on a keyframe the encoder hands out while it is being activated (a primed spare's)", () => {
    const video = new VideoSource({
      target: { platform: "linux", display: ":0" },
      codec: "h264",
      fps: 30,
      maxKbps: 1000,
      log,
      // Like a spare primed with the screen: its keyframe is ready, and comes out on activation.
      createEncoder: (_kbps, events) => ({
        stop() {},
        activate: () => events.onFrame({ data: Buffer.from([0, 0, 0, 1, 0x65]), keyframe: true }),
      }),
    });
    const { frames, unsubscribe } = collect(video);
    expect(frames.map((f) => f.keyframe)).toEqual([true]);
    unsubscribe();
    video.stop();
  });
});
