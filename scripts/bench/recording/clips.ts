/**
 * The recording benchmark's video: three short clips encoded once, up front, exactly as the agent
 * encodes a screen (its own `outputArgs`: mpdecimate, the rate cap, the keyframe interval, H.264 in
 * FLV) at its default settings, from generated pictures instead of a captured display:
 *
 * - static: a still desktop with one window showing a prompt (mpdecimate leaves the 1 frame/s
 *   heartbeat);
 * - terminal: a 840×520 "terminal" at the top left of a 1280×720 desktop scrolling 17 lines of
 *   hex every 50 ms, like bench:media's `od -x -N 256 /dev/urandom` loop;
 * - motion: bench:media's full-screen test pattern scrolling both ways at 30 fps, 1920×1080.
 *
 * A clip is read back as the access units the agent hands its packetizer, each with its time.
 */
import { execFile } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { loadConfig } from "../../../apps/agent/src/config.ts";
import { outputArgs } from "../../../apps/agent/src/capture/ffmpeg-args.ts";
import { NAL_UNIT_TYPE, nalUnitType, splitLengthPrefixed } from "../../../apps/agent/src/capture/h264-nal.ts";
import { spsPictureSize } from "@rd/recording/codec";

const run = promisify(execFile);

export type WorkloadName = "static" | "terminal" | "motion";
export const WORKLOADS: WorkloadName[] = ["static", "terminal", "motion"];

export const DESCRIPTIONS: Record<WorkloadName, string> = {
  static: "static desktop, 1280×720",
  terminal: "busy terminal, 1280×720",
  motion: "1080p motion, 1920×1080",
};

/** The agent's defaults (RD_AGENT_FPS, RD_AGENT_MAX_KBPS): what it encodes with unless told otherwise. */
const agent = loadConfig({});
export const AGENT_FPS = agent.fps;
export const AGENT_MAX_KBPS = agent.maxKbps;

export interface ClipFrame {
  /** One access unit, AVC length-prefixed (EncodedFrame.data). */
  data: Buffer;
  keyframe: boolean;
  /** Its presentation time in the clip, ms. */
  timeMs: number;
}

export interface Clip {
  frames: ClipFrame[];
  /** The picture size its SPS states. */
  width: number;
  height: number;
  /** How long the clip lasts: the next pass starts this long after the first frame. */
  durationMs: number;
  /**
   * Where later passes start. A still screen goes on from its first delta frame, so it is not
   * given a keyframe every pass that the agent would not send; a moving picture restarts at its
   * keyframe (as the agent's encoder does after a restart), since its delta frames only decode
   * after the frames before them.
   */
  loopFrom: number;
}

const SECONDS = 20;
const TERMINAL_LINES = 40;
/** od -x prints 17 lines per 256 bytes; the bench:media terminal prints them every 50 ms. */
const LINES_PER_STEP = 17;
const STEPS_PER_SECOND = 20;

/**
 * The terminal's text: each line an offset and eight hex words, drawtext expressions of the time,
 * so the screen scrolls by LINES_PER_STEP lines per step (line k of the "output" always shows the
 * same words). The words come from a sine hash: as random-looking to the encoder as od's.
 */
function terminalText(): string {
  const lines: string[] = [];
  for (let line = 0; line < TERMINAL_LINES; line++) {
    const k = `(floor(t*${STEPS_PER_SECOND})*${LINES_PER_STEP}+${line})`;
    const words = Array.from(
      { length: 8 },
      (_, c) => `%{eif:mod(floor(abs(sin(${k}*12.9898+${c}*78.233))*43758.5453),65536):x:4}`,
    );
    lines.push([`%{eif:${k}*16:x:7}`, ...words].join(" "));
  }
  return lines.join("\n");
}

/** The generated picture: an ffmpeg input and the filters that draw on it, before the agent's. */
function source(name: WorkloadName, dir: string): { input: string[]; filters: string } {
  switch (name) {
    case "static":
      return {
        input: ["-f", "lavfi", "-i", `color=c=0x3a6ea5:s=1280x720:r=${AGENT_FPS}`],
        filters:
          "drawbox=x=40:y=40:w=606:h=394:color=black:t=fill," +
          "drawtext=font=monospace:text='user@desk\\:~$ ':fontsize=13:fontcolor=0xe0e0e0:x=44:y=44",
      };
    case "terminal": {
      const textFile = path.join(dir, "terminal.txt");
      writeFileSync(textFile, terminalText());
      return {
        input: ["-f", "lavfi", "-i", `color=c=0x2e3436:s=1280x720:r=${STEPS_PER_SECOND}`],
        filters:
          "drawbox=x=0:y=0:w=840:h=520:color=black:t=fill," +
          `drawtext=font=monospace:textfile=${textFile}:fontsize=12:fontcolor=0xe0e0e0:x=4:y=4:line_spacing=2,` +
          // Drawn once per step, then shown at the capture rate, as the screen is grabbed.
          `fps=${AGENT_FPS}`,
      };
    }
    case "motion":
      return {
        input: ["-f", "lavfi", "-i", "testsrc2=s=1920x1080:r=30,scroll=h=0.003:v=0.002"],
        filters: "",
      };
  }
}

/** Encodes a workload's clip into `dir` with the agent's encoder settings; returns the FLV file. */
export async function encodeClip(name: WorkloadName, dir: string): Promise<string> {
  const file = path.join(dir, `${name}.flv`);
  const { input, filters } = source(name, dir);
  const args = outputArgs({ codec: "h264", fps: AGENT_FPS, kbps: AGENT_MAX_KBPS });
  // The generated picture's filters go before the agent's own chain (mpdecimate first), as the
  // screen would reach it; the agent's pipe output becomes the clip file.
  const vf = args.indexOf("-vf");
  if (filters) args[vf + 1] = `${filters},${args[vf + 1]}`;
  args[args.length - 1] = file;
  await run(
    "ffmpeg",
    ["-hide_banner", "-loglevel", "error", "-y", ...input, "-t", String(SECONDS), ...args],
    {
      maxBuffer: 16 * 1024 * 1024,
    },
  );
  return file;
}

const FLV_HEADER_BYTES = 9 + 4;
const TAG_HEADER_BYTES = 11;
const VIDEO_TAG = 9;
const AVC_NALUS = 1;
/** Frame type/codec, AVC packet type, composition time. */
const AVC_HEADER_BYTES = 5;

/**
 * The access units of an FLV file with their times (FLV spec, Annex E: a tag's 24-bit timestamp
 * and its extension byte above it). The agent reads the same tags (h264-flv-reader.ts) but has no
 * use for their times; a clip needs them to be played back at its pace.
 */
export function readClip(file: string, name: WorkloadName): Clip {
  const flv = readFileSync(file);
  const frames: ClipFrame[] = [];
  let size: { width: number; height: number } | undefined;
  for (let offset = FLV_HEADER_BYTES; offset + TAG_HEADER_BYTES <= flv.length;) {
    const type = flv[offset]! & 0x1f;
    const bodyBytes = flv.readUIntBE(offset + 1, 3);
    const timeMs = (flv.readUIntBE(offset + 4, 3) | (flv[offset + 7]! << 24)) >>> 0;
    const body = flv.subarray(offset + TAG_HEADER_BYTES, offset + TAG_HEADER_BYTES + bodyBytes);
    offset += TAG_HEADER_BYTES + bodyBytes + 4;
    if (type !== VIDEO_TAG || body[1] !== AVC_NALUS) continue;
    const data = Buffer.from(body.subarray(AVC_HEADER_BYTES));
    const nals = splitLengthPrefixed(data);
    const sps = nals.find((nal) => nalUnitType(nal) === NAL_UNIT_TYPE.sps);
    if (sps) size ??= spsPictureSize(sps);
    const keyframe = nals.some((nal) => nalUnitType(nal) === NAL_UNIT_TYPE.idrSlice);
    frames.push({ data, keyframe, timeMs });
  }
  if (!frames[0]?.keyframe || !size) throw new Error(`the ${name} clip does not start with a keyframe`);
  return { frames, ...size, durationMs: SECONDS * 1000, loopFrom: name === "static" ? 1 : 0 };
}
