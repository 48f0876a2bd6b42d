/**
 * The tile stream against a real Xvfb and its change-driven capture: what each viewer receives,
 * reassembled and inflated as a browser would, is the screen (xsetroot's colours); a viewer that
 * joins later starts from the whole picture, one that fell behind is sent what it missed as one update; a quiet second says it is alive; a
 * film turns the display to video and its end back to tiles.
 */
import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";
import { inflateRawSync } from "node:zlib";
import { createLogger } from "@rd/log";
import { applyTileUpdate, SCREEN_MESSAGES, type TilePicture } from "@rd/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDisplay, type TestDisplay } from "../../testing/display.ts";
import { DamageCapture } from "../x11/damage-capture.ts";
import { XScreenReader } from "../x11/x-screen-reader.ts";
import { type ScreenMode, TileStream, type TileViewer } from "./tile-stream.ts";

const run = promisify(execFile);
const log = createLogger("silent", { name: "agent", module: "tiles-test" });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let display: TestDisplay;
beforeAll(async () => {
  display = await startDisplay({ width: 640, height: 480 });
}, 30_000);
afterAll(() => display?.close());

function stream() {
  const capture = new DamageCapture({
    fps: 30,
    log,
    open: () => XScreenReader.open(display.display, display.env.XAUTHORITY),
    framebuffer: display.framebuffer,
  });
  return { capture, tiles: new TileStream({ capture, log }) };
}

/** A viewer as the browser is one: it reassembles, inflates and applies what it is sent. */
class Receiver implements TileViewer {
  buffered = 0;
  picture?: TilePicture;
  updates = 0;
  alive = 0;
  /** Updates marked as the whole picture. */
  wholes = 0;
  private parts: Buffer[] = [];

  send(message: Buffer) {
    const kind = message[0];
    if (kind === SCREEN_MESSAGES.alive) return void this.alive++;
    if (kind !== SCREEN_MESSAGES.part && kind !== SCREEN_MESSAGES.last && kind !== SCREEN_MESSAGES.whole)
      throw new Error(`message ${kind}`);
    this.parts.push(message.subarray(1));
    if (kind === SCREEN_MESSAGES.part) return;
    if (kind === SCREEN_MESSAGES.whole) this.wholes++;
    const update = inflateRawSync(Buffer.concat(this.parts));
    this.parts = [];
    this.picture = applyTileUpdate(this.picture, update).picture;
    this.updates++;
  }

  /** "#rrggbb" at (x, y) of its picture. */
  colourAt(x: number, y: number): string | undefined {
    if (!this.picture) return undefined;
    const at = (y * this.picture.width + x) * 4;
    const rgb = [...this.picture.rgba.subarray(at, at + 3)];
    return `#${rgb.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
  }
}

async function until(check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await sleep(20);
  }
}

const setRoot = (colour: string) => run("xsetroot", ["-solid", colour], { env: display.env });

describe("TileStream on Xvfb", () => {
  it("sends each viewer the whole picture, then what changes; a later viewer starts from the whole", async () => {
    const { capture, tiles } = stream();
    try {
      await setRoot("#ff0000");
      const first = new Receiver();
      const leave = tiles.subscribe(first);
      await until(() => first.colourAt(10, 10) === "#ff0000");
      await setRoot("#0000ff");
      await until(() => first.colourAt(600, 400) === "#0000ff");
      const updates = first.updates;
      expect(updates).toBeGreaterThanOrEqual(2);
      // Only the first update was the whole picture; the rest were changes.
      expect(first.wholes).toBe(1);

      const second = new Receiver();
      tiles.subscribe(second);
      await until(() => second.colourAt(600, 400) === "#0000ff");
      // The later viewer's first update is the whole picture: it equals the first viewer's.
      expect(Buffer.from(second.picture!.rgba).equals(Buffer.from(first.picture!.rgba))).toBe(true);
      expect(second.wholes).toBe(1);
      await setRoot("#00ff00");
      await until(() => first.colourAt(5, 5) === "#00ff00" && second.colourAt(5, 5) === "#00ff00");
      leave();
      // A quiet second is said, so the viewer knows the picture is live.
      const alive = second.alive;
      await until(() => second.alive > alive, 3000);
    } finally {
      tiles.close();
      capture.close();
    }
  });

  it("sends the next session's viewer the whole picture of a screen that did not change", async () => {
    const { capture, tiles } = stream();
    try {
      await setRoot("#123456");
      const first = new Receiver();
      const leave = tiles.subscribe(first);
      await until(() => first.colourAt(10, 10) === "#123456");
      // The pointer is read as the stream starts and drawn into the picture after it.
      await sleep(300);
      // Everyone left: the stream stops, keeping only its encoder's memory (TileEncoder.forget()).
      leave();
      await sleep(100);

      const next = new Receiver();
      tiles.subscribe(next);
      await until(() => next.wholes === 1);
      expect(Buffer.from(next.picture!.rgba).equals(Buffer.from(first.picture!.rgba))).toBe(true);
    } finally {
      tiles.close();
      capture.close();
    }
  });

  it("skips a viewer whose channel is full, and once it drained sends it one update to the picture as it is then", async () => {
    const { capture, tiles } = stream();
    try {
      await setRoot("#111111");
      const slow = new Receiver();
      const fast = new Receiver();
      tiles.subscribe(slow);
      tiles.subscribe(fast);
      await until(() => slow.colourAt(10, 10) === "#111111" && fast.colourAt(10, 10) === "#111111");
      slow.buffered = 5_000_000;
      await setRoot("#222222");
      await until(() => fast.colourAt(10, 10) === "#222222");
      await setRoot("#333333");
      await until(() => fast.colourAt(10, 10) === "#333333");
      // Nothing was sent while it was full: its picture is still the old one.
      expect(slow.colourAt(10, 10)).toBe("#111111");
      const updates = slow.updates;
      slow.buffered = 0;
      await until(() => slow.colourAt(10, 10) === "#333333", 4000);
      // One update took it from #111111 to #333333, and not as the whole picture again.
      expect(slow.updates).toBe(updates + 1);
      expect(slow.wholes).toBe(1);
      expect(Buffer.from(slow.picture!.rgba).equals(Buffer.from(fast.picture!.rgba))).toBe(true);
      // Back in step: it takes the stream's changes again.
      await setRoot("#444444");
      await until(() => slow.colourAt(600, 400) === "#444444" && fast.colourAt(600, 400) === "#444444");
      expect(slow.wholes).toBe(1);
    } finally {
      tiles.close();
      capture.close();
    }
  });

  it("turns to video while a film plays, and back to tiles once the screen is quiet", async () => {
    const { capture, tiles } = stream();
    const modes: ScreenMode[] = [];
    tiles.onMode((mode) => modes.push(mode));
    const viewer = new Receiver();
    tiles.subscribe(viewer);
    const film = spawn(
      "ffplay",
      [
        ...["-f", "lavfi", "-i", "testsrc2=s=480x360:r=30,scroll=h=0.003:v=0.002"],
        ...["-an", "-loglevel", "error", "-nostats", "-left", "0", "-top", "0"],
      ],
      { env: { ...display.env, SDL_RENDER_DRIVER: "software" }, stdio: "ignore" },
    );
    try {
      await until(() => tiles.mode === "video", 15_000);
      expect(modes).toEqual(["video"]);
      film.kill("SIGKILL");
      await until(() => tiles.mode === "tiles", 15_000);
      expect(modes).toEqual(["video", "tiles"]);
    } finally {
      film.kill("SIGKILL");
      tiles.close();
      capture.close();
    }
  }, 40_000);
});
