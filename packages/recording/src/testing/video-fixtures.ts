/**
 * Test fixtures: real H.264 and VP8 frames encoded by ffmpeg from its test pattern, and ffprobe /
 * ffmpeg run over written segments. Test-only (not exported by the package); needs ffmpeg on PATH,
 * which scripts/bootstrap.sh installs.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { NAL_TYPE, nalType, splitAnnexB } from "../codec/h264-annexb.ts";

const run = promisify(execFile);
const MAX_OUTPUT = 256 * 1024 * 1024;

export interface EncodedFrame {
  data: Uint8Array;
  keyframe: boolean;
}

export interface EncodeOptions {
  seconds: number;
  fps: number;
  /** Keyframe interval in frames. */
  gop: number;
  width?: number;
  height?: number;
}

/** Baseline H.264 as Annex B access units, SPS and PPS repeated before every IDR (dump_extra). */
export async function encodeH264(options: EncodeOptions): Promise<EncodedFrame[]> {
  const { stdout } = await run(
    "ffmpeg",
    [
      ...input(options),
      ...["-c:v", "libx264", "-profile:v", "baseline", "-bf", "0", "-g", String(options.gop)],
      ...["-pix_fmt", "yuv420p", "-bsf:v", "dump_extra", "-f", "h264", "-"],
    ],
    { encoding: "buffer", maxBuffer: MAX_OUTPUT },
  );
  return splitAccessUnits(new Uint8Array(stdout));
}

/** VP8 frames out of ffmpeg's IVF output. */
export async function encodeVp8(options: EncodeOptions): Promise<EncodedFrame[]> {
  const { stdout } = await run(
    "ffmpeg",
    [
      ...input(options),
      ...["-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "1M"],
      ...[
        "-g",
        String(options.gop),
        "-keyint_min",
        String(options.gop),
        "-auto-alt-ref",
        "0",
        "-f",
        "ivf",
        "-",
      ],
    ],
    { encoding: "buffer", maxBuffer: MAX_OUTPUT },
  );
  return readIvf(new Uint8Array(stdout));
}

function input({ seconds, fps, width = 640, height = 360 }: EncodeOptions): string[] {
  return [
    "-v",
    "error",
    "-f",
    "lavfi",
    "-i",
    `testsrc2=size=${width}x${height}:rate=${fps}`,
    "-t",
    String(seconds),
  ];
}

/**
 * Groups a byte stream's NAL units into access units (ITU-T H.264 §7.4.1.2.3): a new one starts at
 * a delimiter, SEI or parameter set, or at a slice whose first_mb_in_slice is 0, once the current
 * one has a slice. first_mb_in_slice is the slice header's first field, ue(v): 0 is a single 1 bit.
 */
function splitAccessUnits(stream: Uint8Array): EncodedFrame[] {
  const units: Uint8Array[][] = [];
  let current: Uint8Array[] = [];
  let hasSlice = false;
  for (const nal of splitAnnexB(stream)) {
    const type = nalType(nal);
    const isSlice = type >= 1 && type <= 5;
    const startsUnit = isSlice ? (nal[1]! & 0x80) !== 0 : type >= 6 && type <= 9;
    if (hasSlice && startsUnit) {
      units.push(current);
      current = [];
      hasSlice = false;
    }
    current.push(nal);
    hasSlice ||= isSlice;
  }
  if (current.length) units.push(current);
  return units.map((nals) => ({
    data: annexB(nals),
    keyframe: nals.some((nal) => nalType(nal) === NAL_TYPE.idrSlice),
  }));
}

/** NAL units behind 4-byte start codes, as an RTP depacketizer writes an access unit. */
export function annexB(nals: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(nals.reduce((sum, nal) => sum + 4 + nal.length, 0));
  let offset = 0;
  for (const nal of nals) {
    out.set([0, 0, 0, 1], offset);
    out.set(nal, offset + 4);
    offset += 4 + nal.length;
  }
  return out;
}

/** IVF: a 32-byte file header (its length at byte 6), then frames of size(4, LE) | pts(8) | data. */
function readIvf(file: Uint8Array): EncodedFrame[] {
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength);
  const frames: EncodedFrame[] = [];
  for (let offset = view.getUint16(6, true); offset + 12 <= file.length;) {
    const size = view.getUint32(offset, true);
    const data = file.subarray(offset + 12, offset + 12 + size);
    frames.push({ data, keyframe: (data[0]! & 0x01) === 0 });
    offset += 12 + size;
  }
  return frames;
}

export interface ProbedStream {
  codec_name: string;
  profile?: string;
  level?: number;
  width: number;
  height: number;
  start_time: string;
  duration?: string;
  nb_read_frames?: string;
}

export interface Probe {
  streams: ProbedStream[];
  format: { format_name: string; start_time?: string; duration?: string };
}

/** `ffprobe -show_streams -show_format`, counting frames too. */
export async function ffprobe(file: string): Promise<Probe> {
  const { stdout } = await run("ffprobe", [
    ...["-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", file],
  ]);
  return JSON.parse(stdout) as Probe;
}

export interface ProbedPacket {
  ptsMs: number;
  keyframe: boolean;
}

/**
 * The video packets as ffprobe reads them from the container (`-show_packets`), times in ms.
 * (Their durations are left out: ffmpeg 5.1 reports the stream's nominal frame duration for every
 * packet of a fragmented file, not the trun's.)
 */
export async function probePackets(file: string): Promise<ProbedPacket[]> {
  const { stdout } = await run(
    "ffprobe",
    [
      ...["-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags"],
      ...["-of", "json", file],
    ],
    { maxBuffer: MAX_OUTPUT },
  );
  const { packets } = JSON.parse(stdout) as { packets: { pts_time: string; flags: string }[] };
  return packets.map((p) => ({
    ptsMs: Math.round(Number(p.pts_time) * 1000),
    keyframe: p.flags.startsWith("K"),
  }));
}

/** Decodes every frame; resolves with what ffmpeg reported (empty when all decoded cleanly). */
export async function decodeErrors(file: string): Promise<string> {
  const { stderr } = await run("ffmpeg", ["-v", "error", "-i", file, "-f", "null", "-"]);
  return stderr.trim();
}
