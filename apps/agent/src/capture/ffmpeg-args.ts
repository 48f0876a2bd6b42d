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
  kbps: number;
}

/** The capture input for the target platform. */
export function captureInputArgs(target: CaptureTarget, fps: number): string[] {
  switch (target.platform) {
    case "linux":
      return ["-f", "x11grab", "-draw_mouse", "1", "-framerate", String(fps), "-i", target.display ?? ":0"];
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

/** The whole command: capture → drop unchanged frames → encode → a container on stdout. */
export function ffmpegArgs(target: CaptureTarget, settings: EncoderSettings): string[] {
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-fflags",
    "nobuffer",
    "-flags",
    "low_delay",
    ...captureInputArgs(target, settings.fps),
    ...outputArgs(settings),
  ];
}

/**
 * Everything after the input, for any input (tests encode a generated one):
 *
 * - `mpdecimate` drops frames that did not change, so a static screen costs neither encoding nor
 *   bandwidth; `max=fps` still lets one frame a second through, so the viewer knows the stream lives.
 * - The crop to even sizes is for 4:2:0 chroma, which both codecs use.
 * - `-fps_mode passthrough` keeps ffmpeg from re-inserting the dropped frames to hold a constant rate.
 * - `-flush_packets 1`: every frame reaches the pipe at once instead of filling a 32 KiB buffer.
 */
export function outputArgs(settings: EncoderSettings): string[] {
  return [
    "-vf",
    `mpdecimate=max=${settings.fps},crop=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p`,
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
function vp8Args({ fps, kbps }: EncoderSettings): string[] {
  return [
    "-c:v",
    "libvpx",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-threads",
    "2",
    ...rateCapArgs(kbps),
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
function h264Args({ fps, kbps }: EncoderSettings): string[] {
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
    ...rateCapArgs(kbps),
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

/** A rate cap with a small buffer, so a busy screen cannot queue seconds of data. */
function rateCapArgs(kbps: number): string[] {
  return ["-b:v", `${kbps}k`, "-maxrate", `${kbps}k`, "-bufsize", `${Math.max(100, Math.round(kbps / 2))}k`];
}

/** Keyframes come on demand (the encoder is restarted), plus one every 10 s as a safety net. */
function keyframeIntervalArgs(fps: number): string[] {
  return ["-g", String(fps * 10)];
}
