/**
 * A grabbing encoder on standby, against a stand-in ffmpeg (a shell script first on PATH): what
 * it is told, and what happens when it does not wait. The real ffmpeg's standby is covered on a
 * real display in video-source.test.ts.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@rd/log";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { EncoderSettings } from "./ffmpeg-args.ts";
import { ScreenEncoder } from "./screen-encoder.ts";

const log = createLogger("silent", { name: "test" });
const SETTINGS: EncoderSettings = { codec: "h264", fps: 30, kbps: 1000 };
let dir: string;
let savedPath: string | undefined;

/** Puts an `ffmpeg` running `script` first on PATH. */
function fakeFfmpeg(script: string) {
  const file = path.join(dir, "ffmpeg");
  writeFileSync(file, `#!/bin/sh\n${script}\n`);
  chmodSync(file, 0o755);
}

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), "rd-fake-ffmpeg-"));
  savedPath = process.env.PATH;
  process.env.PATH = `${dir}:${savedPath}`;
});
afterEach(() => {
  process.env.PATH = savedPath;
  rmSync(dir, { recursive: true, force: true });
});

async function until(check: () => boolean) {
  const deadline = Date.now() + 5000;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A gated encoder on a stand-in ffmpeg that writes down its arguments, then what its stdin said
 * (its gate). Each file is written aside and renamed, so the test never reads one half written.
 */
function recordingEncoder(settings: EncoderSettings) {
  const args = path.join(dir, "args");
  const gate = path.join(dir, "gate");
  fakeFfmpeg(
    `echo "$@" > ${args}.part && mv ${args}.part ${args}; cat > ${gate}.part && mv ${gate}.part ${gate}; exec sleep 30`,
  );
  const encoder = new ScreenEncoder(
    { platform: "linux", display: ":99" },
    settings,
    { onScreen() {}, onFrame() {}, onExit() {} },
    log,
    undefined,
    "gated",
  );
  return {
    encoder,
    args: async () => {
      await until(() => existsSync(args));
      return readFileSync(args, "utf8");
    },
    gateOpened: () => existsSync(gate),
    gate: async () => {
      await until(() => existsSync(gate));
      return readFileSync(gate, "utf8");
    },
  };
}

describe("a grabbing encoder on standby", () => {
  it("reads its filter graph from stdin, and gets it, and only it, when activated", async () => {
    const { encoder, args, gateOpened, gate } = recordingEncoder(SETTINGS);
    try {
      expect(await args()).toMatch(/-filter_complex_script pipe:0 .*-f x11grab .*-map \[v\]/);
      await new Promise((r) => setTimeout(r, 200));
      expect(gateOpened()).toBe(false);
      encoder.activate();
      expect(await gate()).toBe(
        "[0:v]scale=flags=neighbor,format=yuv420p,mpdecimate=max=30,crop=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p[v]",
      );
    } finally {
      encoder.stop();
    }
  });

  it("grabs at the full rate and drops the extra grabs first when asked for fewer frames", async () => {
    const { encoder, args, gate } = recordingEncoder({ ...SETTINGS, grabsPerFrame: 2 });
    try {
      expect(await args()).toMatch(/-framerate 60 /);
      encoder.activate();
      // One grab in two goes on, before anything is converted; a second's heartbeat is 30 frames.
      expect(await gate()).toMatch(/^\[0:v\]select=not\(mod\(n\\,2\)\),scale=.*,mpdecimate=max=30,/);
    } finally {
      encoder.stop();
    }
  });

  it("is stopped, with the reason, when it writes before its gate opened", async () => {
    // An ffmpeg that ignored the gate and grabs the screen at once.
    fakeFfmpeg("printf 'FLV'; exec sleep 30");
    const message = await new Promise<string>((resolve) => {
      new ScreenEncoder(
        { platform: "linux", display: ":99" },
        SETTINGS,
        { onScreen() {}, onFrame() {}, onExit: resolve },
        log,
        undefined,
        "gated",
      );
    });
    expect(message).toMatch(/did not wait at its gate/);
  });
});
