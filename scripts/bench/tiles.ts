/**
 * `npm run bench:tiles`: what the tile encoder costs per frame of bench:media's busy terminal, alone.
 * It records FRAMES screens of that workload (an xterm printing `od -x` every 50 ms on a 1280×720
 * Xvfb) from the framebuffer file as the agent reads it, 50 ms apart, then encodes the sequence
 * ROUNDS times with a fresh TileEncoder each round, and prints the median round.
 *
 * bench:media's CPU column moves by ±0.03 core between runs, more than any one change to the encoder
 * is worth; the same recorded frames encoded again and again show such a change. Prints figures;
 * asserts nothing.
 *
 * Knobs: FRAMES (screens recorded, 100), ROUNDS (passes over them, 7).
 */
import { setTimeout as sleep } from "node:timers/promises";
import { TileEncoder } from "../../apps/agent/src/capture/tiles/tile-encoder.ts";
import { FramebufferFile } from "../../apps/agent/src/capture/x11/framebuffer-file.ts";
import { startWorkload } from "./media/workloads.ts";
import { wholeNumber } from "./env.ts";

const FRAMES = wholeNumber("FRAMES", 100);
const ROUNDS = wholeNumber("ROUNDS", 7);
/** bench:media's busy terminal changes every 50 ms; so do the recorded screens. */
const FRAME_GAP_MS = 50;
/** The terminal's first screenful is still drawing after its window maps. */
const SETTLE_MS = 1500;

/** The busy terminal's screens as the agent reads them, FRAME_GAP_MS apart. */
async function recordScreens() {
  const workload = await startWorkload("terminal");
  try {
    const file = await FramebufferFile.open(workload.display.framebuffer);
    try {
      const { width, height, pixelFormat } = file.layout;
      await sleep(SETTLE_MS);
      const screens: Buffer[] = [];
      for (let i = 0; i < FRAMES; i++) {
        const screen = Buffer.alloc(width * height * 4);
        await file.readRows(0, height, screen);
        screens.push(screen);
        await sleep(FRAME_GAP_MS);
      }
      return { screens, width, height, pixelFormat };
    } finally {
      await file.close();
    }
  } finally {
    await workload.close();
  }
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

console.log(`[bench:tiles] recording ${FRAMES} screens of the busy terminal…`);
const { screens, width, height, pixelFormat } = await recordScreens();
const msPerFrame: number[] = [];
let bytes = 0;
const ops = { copies: 0, glyphRects: 0, palettes: 0, fills: 0, raws: 0 };
for (let round = 0; round < ROUNDS; round++) {
  const encoder = new TileEncoder(pixelFormat);
  // The first screen is sent whole (a viewer joining); every later one is a change.
  encoder.encode(screens[0]!, width, height);
  bytes = 0;
  const started = performance.now();
  for (const screen of screens.slice(1)) {
    bytes += encoder.encode(screen, width, height)?.length ?? 0;
    if (round === 0)
      for (const op of Object.keys(ops) as (keyof typeof ops)[]) ops[op] += encoder.lastStats[op];
  }
  msPerFrame.push((performance.now() - started) / (screens.length - 1));
}
const changes = screens.length - 1;
const perFrame = median(msPerFrame);
console.log(`
bench:tiles — busy terminal ${width}×${height}, ${changes} changes, median of ${ROUNDS} rounds
| encode, ms per change (min–max) | update, KiB per change | per change: copies / glyph rects / palettes / fills / raw | core share at 20 changes/s |
|---|---|---|---|
| ${perFrame.toFixed(2)} (${Math.min(...msPerFrame).toFixed(2)}–${Math.max(...msPerFrame).toFixed(2)}) | ${(bytes / changes / 1024).toFixed(1)} | ${[ops.copies, ops.glyphRects, ops.palettes, ops.fills, ops.raws].map((n) => (n / changes).toFixed(1)).join(" / ")} | ${((perFrame * 20) / 1000).toFixed(3)} |

Before deflate (tile-stream.ts deflates each update); the first round includes V8's warm-up.`);
