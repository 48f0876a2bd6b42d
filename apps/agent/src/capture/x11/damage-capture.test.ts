/**
 * Change-driven capture against a real Xvfb: the picture it hands out is the screen's (read back
 * with xsetroot's colours), a change is a new frame, a quiet screen is only the sharpening repeats
 * and a heartbeat, the pointer is drawn in, and the real ffmpeg encodes the frames, keyframe first.
 * All of it twice: reading the screen with GetImage, and from Xvfb's framebuffer file.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { createLogger } from "@rd/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDisplay, type TestDisplay } from "../../testing/display.ts";
import type { EncodedFrame } from "../encoded-frame.ts";
import { ScreenEncoder } from "../screen-encoder.ts";
import { DamageCapture, type RawFrame } from "./damage-capture.ts";
import { XScreenReader } from "./x-screen-reader.ts";

const run = promisify(execFile);
const log = createLogger("silent", { name: "agent", module: "capture-test" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let display: TestDisplay;
beforeAll(async () => {
  display = await startDisplay({ width: 320, height: 240 });
}, 30_000);
afterAll(() => display?.close());

type Source = DamageCapture["source"];
let source: Source;
const capture = () =>
  new DamageCapture({
    fps: 30,
    log,
    open: () => XScreenReader.open(display.display, display.env.XAUTHORITY),
    ...(source === "framebuffer" ? { framebuffer: display.framebuffer } : {}),
  });

/** The colour at (x, y) of a bgr0 frame, as "#rrggbb". */
function colourAt(frame: RawFrame, x: number, y: number): string {
  const at = (y * frame.width + x) * 4;
  const [b, g, r] = [frame.data[at]!, frame.data[at + 1]!, frame.data[at + 2]!];
  return `#${[r, g, b].map((c) => c.toString(16).padStart(2, "0")).join("")}`;
}

async function until<T>(read: () => T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = read();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}

describe.each<Source>(["GetImage", "framebuffer"])("DamageCapture on Xvfb, reading with %s", (reading) => {
  beforeAll(() => {
    source = reading;
  });

  it("hands out the screen, then a new frame for each change, and only repeats while it is quiet", async () => {
    await run("xsetroot", ["-solid", "#ff0000"], { env: display.env });
    const source = capture();
    const frames: RawFrame[] = [];
    const unsubscribe = await source.subscribe({ onFrame: (f) => frames.push(f) });
    try {
      expect(source.source).toBe(reading);
      const first = await until(() => frames[0]);
      expect(first.pixelFormat).toBe("bgr0");
      expect([first.width, first.height]).toEqual([320, 240]);
      expect(colourAt(first, 300, 200)).toBe("#ff0000");

      await run("xsetroot", ["-solid", "#0000ff"], { env: display.env });
      const blue = await until(() => frames.find((f) => colourAt(f, 300, 200) === "#0000ff"));
      expect(blue.data).not.toBe(first.data);

      // Quiet now: two sharpening repeats, then a heartbeat a second, each the very same picture.
      await sleep(500);
      const settled = frames.length;
      await sleep(2200);
      const quiet = frames.slice(settled);
      expect(quiet.length).toBeGreaterThanOrEqual(1);
      expect(quiet.length).toBeLessThanOrEqual(3);
      expect(quiet.every((f) => f === frames[settled - 1])).toBe(true);
    } finally {
      unsubscribe();
      source.close();
    }
  });

  it("draws the pointer, and a pointer move alone is a change", async () => {
    const grey = "#808080";
    await run("xsetroot", ["-solid", grey], { env: display.env });
    await run("xdotool", ["mousemove", "100", "100"], { env: display.env });
    const source = capture();
    const frames: RawFrame[] = [];
    const unsubscribe = await source.subscribe({ onFrame: (f) => frames.push(f) });
    // Xvfb's default pointer is an "X" around its hotspot: some pixel near it is not the background.
    const pointerNear = (f: RawFrame, x: number, y: number) => {
      for (let dy = -6; dy <= 6; dy++)
        for (let dx = -6; dx <= 6; dx++) if (colourAt(f, x + dx, y + dy) !== grey) return true;
      return false;
    };
    try {
      await until(() => frames.find((f) => pointerNear(f, 100, 100)));
      await run("xdotool", ["mousemove", "200", "150"], { env: display.env });
      const moved = await until(() => frames.find((f) => pointerNear(f, 200, 150)));
      expect(pointerNear(moved, 100, 100)).toBe(false);
    } finally {
      unsubscribe();
      source.close();
    }
  });

  it("is told when the pointer moves or changes its image, and reads a still one about once a second", async () => {
    let reads = 0;
    let told = 0;
    const watched = new DamageCapture({
      fps: 30,
      log,
      open: async () => {
        const reader = await XScreenReader.open(display.display, display.env.XAUTHORITY);
        const read = reader.cursor.bind(reader);
        reader.cursor = () => {
          reads++;
          return read();
        };
        // Whatever listener the capture sets, what X says is counted on its way there.
        let listener = () => {};
        Object.defineProperty(reader, "onPointer", {
          get: () => () => {
            told++;
            listener();
          },
          set: (set: () => void) => (listener = set),
        });
        return reader;
      },
      ...(source === "framebuffer" ? { framebuffer: display.framebuffer } : {}),
    });
    const unsubscribe = await watched.subscribe({ onFrame: (f) => f.release() });
    try {
      await sleep(300);
      const before = reads;
      await sleep(2000);
      // Polled every 50 ms, a still pointer was read 40 times in these two seconds.
      expect(reads - before).toBeLessThanOrEqual(3);

      await run("xdotool", ["mousemove", "150", "120"], { env: display.env });
      await until(() => (told > 0 ? true : undefined));
      const moved = told;
      // The root window's cursor changes: XFIXES says so, though the pointer stays where it is.
      await run("xsetroot", ["-cursor_name", "watch"], { env: display.env });
      await until(() => (told > moved ? true : undefined));
    } finally {
      unsubscribe();
      watched.close();
      await run("xsetroot", ["-cursor_name", "X_cursor"], { env: display.env });
    }
  });

  it("reuses its frame buffers, copying only the rows that changed, and each is still the whole screen", async () => {
    await run("xsetroot", ["-solid", "#336699"], { env: display.env });
    await run("xdotool", ["mousemove", "20", "20"], { env: display.env });
    const source = capture();
    const frames: Buffer[] = [];
    const buffers = new Set<Buffer>();
    // Copied and released at once, so the capture hands the same few buffers out again and again.
    const unsubscribe = await source.subscribe({
      onFrame: (f) => {
        frames.push(Buffer.from(f.data));
        buffers.add(f.data);
        f.release();
      },
    });
    try {
      await until(() => frames[0]);
      // The pointer walks down the screen: each hand-out changes a few rows, at a new place.
      for (let step = 1; step <= 10; step++) {
        await run("xdotool", ["mousemove", String(20 + step * 25), String(20 + step * 20)], {
          env: display.env,
        });
        await sleep(60);
      }
      await sleep(300);
      expect(buffers.size).toBeLessThan(frames.length);
      const last = frames.at(-1)!;

      // What a capture that reads the whole screen afresh hands out once it has read the pointer:
      // the very same picture.
      const fresh = capture();
      const firsts: Buffer[] = [];
      const stop = await fresh.subscribe({ onFrame: (f) => firsts.push(Buffer.from(f.data)) });
      try {
        await until(() => firsts[0]);
        await sleep(300);
        expect(firsts.at(-1)!.equals(last)).toBe(true);
      } finally {
        stop();
        fresh.close();
      }
    } finally {
      unsubscribe();
      source.close();
    }
  });

  it("repeats a lone small change only with the heartbeat, not with the sharpening repeats", async () => {
    await run("xsetroot", ["-solid", "#808080"], { env: display.env });
    await run("xdotool", ["mousemove", "50", "50"], { env: display.env });
    const source = capture();
    const frames: RawFrame[] = [];
    const unsubscribe = await source.subscribe({ onFrame: (f) => frames.push(f) });
    try {
      await until(() => frames[0]);
      // Let the start's repeats and a heartbeat pass, then move the pointer once: a small change.
      await sleep(1500);
      const before = frames.length;
      await run("xdotool", ["mousemove", "60", "60"], { env: display.env });
      const moved = await until(() => (frames.length > before ? frames.length : undefined));
      await sleep(700);
      // The new picture once; a repeat of it only with the heartbeat, a second after it.
      expect(frames.length - moved).toBeLessThanOrEqual(1);
    } finally {
      unsubscribe();
      source.close();
    }
  });

  it("observed without subscribers: counts changes per second, reads nothing, and keeps no stale picture", async () => {
    await run("xsetroot", ["-solid", "#202020"], { env: display.env });
    const source = capture();
    const rates: number[] = [];
    const unobserve = await source.observe((rate) => rates.push(rate));
    try {
      // A busy second: a change every ~50 ms.
      const busyUntil = Date.now() + 2200;
      for (let i = 0; Date.now() < busyUntil; i++) {
        await run("xsetroot", ["-solid", i % 2 ? "#303030" : "#404040"], { env: display.env });
        await sleep(40);
      }
      await until(() => (rates.length >= 2 ? true : undefined), 3000);
      expect(Math.max(...rates)).toBeGreaterThanOrEqual(8);
      // Nothing was read for nobody: no picture to start from, it is not the screen any more.
      expect(source.take()).toBeUndefined();
      const quietFrom = rates.length + 1;
      await until(() => (rates.length >= quietFrom + 1 ? true : undefined), 3000);
      expect(rates.slice(quietFrom)).toEqual([0]);

      // A subscriber then starts from the screen as it is.
      await run("xsetroot", ["-solid", "#00ffff"], { env: display.env });
      const frames: RawFrame[] = [];
      const unsubscribe = await source.subscribe({ onFrame: (f) => frames.push(f) });
      await until(() => frames.find((f) => colourAt(f, 10, 10) === "#00ffff"));
      unsubscribe();
    } finally {
      unobserve();
      source.close();
    }
  });

  it("watched while idle, says how many screens' worth changed in the last whole second", async () => {
    const source = capture();
    try {
      await source.watchWhileIdle();
      await sleep(2100);
      expect(source.changedScreens()).toBe(0);
      // Three repaints of the whole root window within the second, each in a frame slot of its
      // own (reports within one slot count as one bounding box).
      for (const colour of ["#102030", "#203040", "#304050"]) {
        await run("xsetroot", ["-solid", colour], { env: display.env });
        await sleep(100);
      }
      await until(() => (source.changedScreens() >= 3 ? true : undefined), 3000);
      // Each change was the whole screen (a film's, not a terminal window's).
      expect(source.changedShare()).toBeGreaterThan(0.9);
      await sleep(2100);
      expect(source.changedScreens()).toBe(0);
    } finally {
      source.close();
    }
  });

  it("feeds ffmpeg only what changed: a keyframe at once, then frames as the screen changes", async () => {
    const source = capture();
    const encoded: EncodedFrame[] = [];
    let exit: string | undefined;
    const encoder = new ScreenEncoder(
      { platform: "linux", display: display.display },
      { codec: "h264", fps: 30, kbps: 1000 },
      { onFrame: (f) => encoded.push(f), onScreen: () => {}, onExit: (m) => (exit = m) },
      log,
      source,
    );
    try {
      await until(() => encoded[0], 10_000);
      expect(encoded[0]!.keyframe).toBe(true);
      const before = encoded.length;
      await run("xsetroot", ["-solid", "#00ff00"], { env: display.env });
      await until(() => (encoded.length > before ? true : undefined));
      expect(encoded.slice(1).some((f) => f.keyframe)).toBe(false);
      expect(exit).toBeUndefined();
    } finally {
      encoder.stop();
      source.close();
    }
  });
});
