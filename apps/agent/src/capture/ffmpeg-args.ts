/**
 * The ffmpeg command lines: screen capture per platform and the real-time encoder settings.
 * Linux (x11grab) is what runs and is tested here; the Windows (gdigrab, ddagrab) and macOS
 * (avfoundation) inputs are implemented but untested (no such machines in CI).
 */

export interface CaptureTarget {
  platform: NodeJS.Platform;
  /** X display (":0") on Linux; ignored elsewhere. */
  display?: string;
  /** Windows: prefer Desktop Duplication (ddagrab, needs ffmpeg ≥ 6 and a GPU) over GDI. */
  windowsDuplication?: boolean;
}

export interface EncoderSettings {
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

/**
 * The whole command: capture → drop unchanged frames → VP8 in IVF on stdout.
 *
 * - `mpdecimate` drops frames that did not change, so a static screen costs neither encoding nor
 *   bandwidth; `max=fps` still lets one frame a second through, so the viewer knows the stream lives.
 * - `-fps_mode passthrough` keeps ffmpeg from re-inserting the dropped frames to hold a constant rate.
 * - Real-time VP8: no look-ahead (`lag-in-frames 0`, no alt-ref), `error-resilient` so a lost
 *   packet damages one frame, and a rate cap with a small buffer so a busy screen cannot queue seconds
 *   of data. Keyframes come on demand (the encoder is restarted), plus one every 10 s as a safety net.
 * - `-flush_packets 1`: every frame reaches the pipe at once instead of filling a 32 KiB buffer.
 */
export function ffmpegArgs(target: CaptureTarget, settings: EncoderSettings): string[] {
  const { fps, kbps } = settings;
  return [
    "-hide_banner",
    "-loglevel",
    "error",
    "-nostdin",
    "-fflags",
    "nobuffer",
    "-flags",
    "low_delay",
    ...captureInputArgs(target, fps),
    "-vf",
    `mpdecimate=max=${fps},crop=trunc(iw/2)*2:trunc(ih/2)*2,format=yuv420p`,
    "-fps_mode",
    "passthrough",
    "-c:v",
    "libvpx",
    "-deadline",
    "realtime",
    "-cpu-used",
    "8",
    "-threads",
    "2",
    "-b:v",
    `${kbps}k`,
    "-maxrate",
    `${kbps}k`,
    "-bufsize",
    `${Math.max(100, Math.round(kbps / 2))}k`,
    "-undershoot-pct",
    "95",
    "-lag-in-frames",
    "0",
    "-auto-alt-ref",
    "0",
    "-error-resilient",
    "1",
    "-g",
    String(fps * 10),
    "-flush_packets",
    "1",
    "-f",
    "ivf",
    "pipe:1",
  ];
}
