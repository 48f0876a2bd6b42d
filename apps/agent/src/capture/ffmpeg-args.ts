/**
 * The ffmpeg command lines: screen capture per platform and the real-time encoder settings.
 * Linux (x11grab) is what runs and is tested here; the Windows (gdigrab, ddagrab) and macOS
 * (avfoundation) inputs are implemented but untested (no such machines in CI).
 */
import type { VideoCodec } from "./video-codec.ts";

export interface CaptureTarget {
  platform: NodeJS.Platform;
  /** X display (":0") on Linux; ignored elsewhere. */
  display?: string;
  /** Windows: prefer Desktop Duplication (ddagrab, needs ffmpeg ≥ 6 and a GPU) over GDI. */
  windowsDuplication?: boolean;
}

export interface EncoderSettings {
  codec: VideoCodec;
  fps: number;
  /** The rate: the target, or with `quality` the cap. */
  kbps: number;
  /** A constant quality to aim for under the `kbps` cap (the codec's CRF scale); none: the rate. */
  quality?: number;
  /** The share of the screen's width and height to encode (quality-ladder.ts); 1 when absent. */
  scale?: number;
  /**
   * Grabbing: grab this many times `fps` and keep one grab in as many, dropped before they are
   * converted (which is what a grab costs). ffmpeg's grab waits a whole frame period before its
   * first grab, so a busy screen kept to 30 frames/s still gets its first frame after 1/60 s.
   */
  grabsPerFrame?: number;
}

/**
 * The quality frames captured by change are coded at, on each codec's CRF scale (lower is better):
 * settled text is sharp, and a change costs about what x11vnc's Tight encoding sends for it.
 */
export const CHANGE_DRIVEN_QUALITY: Record<VideoCodec, number> = { h264: 25, vp8: 12 };

/** The capture input for the target platform. */
export function captureInputArgs(target: CaptureTarget, fps: number): string[] {
  switch (target.platform) {
    case "linux":
      // No probing: x11grab states the stream's format on opening, and probing only delays the
      // first frame (by ~30 ms here). The one grab `find_stream_info` still takes (a frame period,
      // ~8 ms at 60 Hz) stays: with `-nofind_stream_info`, bench:media's viewer through a relay
      // with an 80 ms round trip decoded no frame and never got its tiles, in four runs of four
      // (the cause is not found; without it, the row passes).
      return [
        ...["-probesize", "32", "-analyzeduration", "0"],
        ...["-f", "x11grab", "-draw_mouse", "1", "-framerate", String(fps), "-i", target.display ?? ":0"],
      ];
    case "win32":
      // Untested: GDI works everywhere; Desktop Duplication is cheaper on Windows 8+ with a GPU.
      return target.windowsDuplication
        ? ["-f", "lavfi", "-i", `ddagrab=framerate=${fps}:draw_mouse=1,hwdownload,format=bgra`]
        : ["-f", "gdigrab", "-draw_mouse", "1", "-framerate", String(fps), "-i", "desktop"];
    case "darwin":
      // Untested: screen 1 ("Capture screen 0" in `ffmpeg -f avfoundation -list_devices true -i ""`).
      return ["-f", "avfoundation", "-capture_cursor", "1", "-framerate", String(fps), "-i", "1:none"];
    default:
      throw new Error(`screen capture is not implemented for ${target.platform}`);
  }
}

/** Raw frames on stdin, as damage-capture.ts hands them out. */
export interface RawInput {
  width: number;
  height: number;
  pixelFormat: string;
}

const COMMON_ARGS = ["-hide_banner", "-loglevel", "error", "-nostdin"];

/**
 * The whole command: capture → drop unchanged frames → encode → a container on stdout.
 *
 * `gated`: for a standby encoder, which must load and then wait, costing nothing, until told to
 * start. ffmpeg reads its global options before it opens any input, so the filter graph is read
 * from stdin (`-filter_complex_script`): ffmpeg has loaded its hundred-odd libraries and waits
 * there, without having opened the screen, until gateText() arrives and stdin closes.
 */
export function ffmpegArgs(target: CaptureTarget, settings: EncoderSettings, gated = false): string[] {
  return [
    ...COMMON_ARGS,
    ...(gated ? ["-filter_complex_script", "pipe:0"] : []),
    ...["-fflags", "nobuffer", "-flags", "low_delay"],
    ...captureInputArgs(target, settings.fps * (settings.grabsPerFrame ?? 1)),
    ...(gated ? ["-map", "[v]", ...encodeArgs(settings)] : outputArgs(settings)),
  ];
}

/** What opens a gated encoder's gate: its filter graph (see ffmpegArgs). */
export function gateText(settings: EncoderSettings): string {
  return `[0:v]${videoFilter(settings, true)}[v]`;
}

/**
 * The command for frames the agent captured itself, only when something changed: nothing to drop.
 * Each frame is stamped 1/fps after the one before (not with the wall clock: with
 * `-use_wallclock_as_timestamps` ffmpeg 5.1 holds every frame back until the next one arrives,
 * which on a quiet screen is a second later; `-fflags nobuffer` does the same to the first frame).
 * The timestamps matter only to the rate control, which then budgets a frame's share of a second as
 * if they came at the full rate.
 */
export function rawFfmpegArgs(input: RawInput, settings: EncoderSettings, primable = false): string[] {
  return [
    ...COMMON_ARGS,
    ...["-probesize", "32", "-analyzeduration", "0", "-f", "rawvideo", "-pix_fmt", input.pixelFormat],
    ...["-video_size", `${input.width}x${input.height}`, "-framerate", String(settings.fps), "-i", "pipe:0"],
    // A standby encoder may be primed with a frame the viewer never sees (screen-encoder.ts):
    // the frame after it is then a keyframe as well.
    ...(primable ? ["-force_key_frames", "expr:lte(n,1)"] : []),
    ...outputArgs(settings, false),
  ];
}

/**
 * Everything after the input, for any input (tests encode a generated one): the filter, then the
 * encoder.
 *
 * - The screen's RGB becomes 4:2:0 YUV first, the one format both codecs take, each chroma sample
 *   from one pixel of its 2×2 block (`neighbor`) instead of a filtered mix: `mpdecimate` compares
 *   planar frames only, so a grab converts every frame it reads (60 a second) before most are
 *   dropped, and swscale's default filter made that the costliest step of a busy 720p screen
 *   (bench:media's busy terminal, ffmpeg alone: 0.19 → 0.16 core; 1080p motion 0.51 → 0.41).
 * - `mpdecimate` drops frames that did not change, so a static screen costs neither encoding nor
 *   bandwidth; `max=fps` still lets one frame a second through, so the viewer knows the stream lives.
 * - The crop to even sizes is for 4:2:0 chroma.
 */
export function outputArgs(settings: EncoderSettings, dropUnchanged = true): string[] {
  return ["-vf", videoFilter(settings, dropUnchanged), ...encodeArgs(settings)];
}

function videoFilter(settings: EncoderSettings, dropUnchanged: boolean): string {
  const every = settings.grabsPerFrame ?? 1;
  const keep = every > 1 ? `select=not(mod(n\\,${every})),` : "";
  const convert = `${keep}scale=flags=neighbor,format=yuv420p,`;
  const decimate = dropUnchanged ? `mpdecimate=max=${settings.fps},` : "";
  const scale = settings.scale ?? 1;
  // Either way even sizes: a narrow link's encoder scales down (and rounds), others crop a pixel.
  const size =
    scale < 1 ? `scale=trunc(iw*${scale}/2)*2:trunc(ih*${scale}/2)*2` : "crop=trunc(iw/2)*2:trunc(ih/2)*2";
  // Said again at the end: the encoder must get 4:2:0 whatever a scale negotiates (a no-op here).
  return `${convert}${decimate}${size},format=yuv420p`;
}

/**
 * - `-fps_mode passthrough` keeps ffmpeg from re-inserting the dropped frames to hold a constant rate.
 * - `-flush_packets 1`: every frame reaches the pipe at once instead of filling a 32 KiB buffer.
 */
function encodeArgs(settings: EncoderSettings): string[] {
  return [
    "-fps_mode",
    "passthrough",
    ...ENCODER_ARGS[settings.codec](settings),
    "-flush_packets",
    "1",
    "pipe:1",
  ];
}

/**
 * Real-time VP8 in IVF: no look-ahead (`lag-in-frames 0`, no alt-ref), `error-resilient` so a lost
 * packet damages one frame, and the rate cap.
 */
function vp8Args(settings: EncoderSettings): string[] {
  const { fps, kbps, quality } = settings;
  return [
    "-c:v",
    "libvpx",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-threads",
    "2",
    // libvpx's constrained quality: -crf with -b:v as the ceiling.
    ...(quality === undefined ? rateCapArgs(kbps) : ["-crf", String(quality), ...rateCapArgs(kbps)]),
    "-undershoot-pct",
    "95",
    "-lag-in-frames",
    "0",
    "-auto-alt-ref",
    "0",
    "-error-resilient",
    "1",
    ...keyframeIntervalArgs(fps),
    "-f",
    "ivf",
  ];
}

/**
 * Real-time H.264 in FLV (see h264-flv-reader.ts for why FLV). `zerolatency` turns off look-ahead
 * and frame threading (its two threads code two slices of the same frame instead), and Constrained
 * Baseline without B-frames is what the SDP offers (profile-level-id 42e01f) and what every WebRTC
 * H.264 decoder takes. With a global header (FLV's) x264 writes SPS and PPS only once; `dump_extra`
 * puts them before every keyframe again, so a viewer can start at any of them.
 */
function h264Args(settings: EncoderSettings): string[] {
  const { fps, kbps } = settings;
  return [
    "-c:v",
    "libx264",
    "-preset",
    "ultrafast",
    "-tune",
    "zerolatency",
    "-profile:v",
    "baseline",
    "-bf",
    "0",
    "-threads",
    "2",
    ...(settings.quality === undefined ? rateCapArgs(kbps) : h264QualityArgs(kbps, settings.quality)),
    ...keyframeIntervalArgs(fps),
    "-bsf:v",
    "dump_extra",
    "-f",
    "flv",
  ];
}

const ENCODER_ARGS: Record<VideoCodec, (settings: EncoderSettings) => string[]> = {
  vp8: vp8Args,
  h264: h264Args,
};

/**
 * Quality-targeted with a rate cap (x264's CRF under VBV): a frame costs what its change needs, not
 * a share of the bitrate. Frames captured by change come at uneven times that ffmpeg stamps evenly,
 * so a bitrate target would spend the rate's per-frame share on every frame, a blinking cursor
 * included. A burst that hits the cap is coded coarser; the repeats after it (damage-capture.ts)
 * are then coded at the target quality again, which is what sharpens the settled picture.
 */
function h264QualityArgs(kbps: number, crf: number): string[] {
  return ["-crf", String(crf), "-maxrate", `${kbps}k`, "-bufsize", `${Math.max(100, Math.round(kbps / 2))}k`];
}

/** A rate cap with a small buffer, so a busy screen cannot queue seconds of data. */
function rateCapArgs(kbps: number): string[] {
  return ["-b:v", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${Math.max(100, Math.round(kbps / 2))}k`];
}

/** Keyframes come on demand (the encoder is restarted), plus one every 10 s as a safety net. */
function keyframeIntervalArgs(fps: number): string[] {
  return ["-g", String(fps * 10)];
}
