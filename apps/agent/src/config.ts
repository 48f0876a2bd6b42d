/**
 * The agent's configuration: one validated env module (no scattered process.env). Every setting
 * has a default that works for a desktop agent; the README lists them.
 */
import { homedir } from "node:os";
import path from "node:path";
import { z } from "zod";
import { VIDEO_CODECS } from "./capture/video-codec.ts";

const iceServer = z.strictObject({
  urls: z.union([z.string(), z.array(z.string())]),
  username: z.string().optional(),
  credential: z.string().optional(),
});

const iceServers = z
  .string()
  .transform((text, ctx) => {
    try {
      return JSON.parse(text) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: 'must be JSON, e.g. [{"urls":"stun:stun.example.org:3478"}]' });
      return z.NEVER;
    }
  })
  .pipe(z.array(iceServer));

const schema = z.object({
  /** Where the credential file lives (0600). */
  RD_AGENT_CONFIG_DIR: z.string().min(1).optional(),
  XDG_CONFIG_HOME: z.string().optional(),
  DISPLAY: z.string().optional(),
  RD_AGENT_LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
  /** STUN/TURN servers for viewers outside the LAN; loopback and LAN work without any. */
  RD_ICE_SERVERS: iceServers.optional(),
  /**
   * Capture rate, and the most frames encoded per second. Unchanged frames are dropped before the
   * encoder, so a higher rate costs little on a quiet screen but halves the wait for the next grab:
   * 60 cut the capture-to-encoded-frame delay from ~40 to ~22 ms (p50) when measured.
   */
  RD_AGENT_FPS: z.coerce.number().int().min(1).max(60).default(60),
  /**
   * h264 (Constrained Baseline) or vp8; case-insensitive. Every WebRTC browser must decode both
   * (RFC 7742). H.264 is the default because `npm run bench:media` measured it ahead on everything
   * that matters here: on a busy terminal p95 input-to-photon 56 ms against VP8's 79-99, a third of
   * the bandwidth, and two thirds of the CPU.
   */
  RD_AGENT_CODEC: z.string().toLowerCase().pipe(z.enum(VIDEO_CODECS)).default("h264"),
  /**
   * How the screen is captured on X. `auto` (the default): by change while the screen is quiet,
   * by grabbing while it keeps changing (capture/capture-mode.ts). `damage`: always by change, the
   * agent reading only what the X server says changed and writing frames to ffmpeg
   * (capture/x11/damage-capture.ts): a tenth of the bandwidth and CPU on a quiet screen, but every
   * frame crosses a pipe whole, so it falls behind on a busy one. `grab`: always ffmpeg grabbing the
   * whole screen through shared memory at the frame rate, dropping unchanged frames. See the README.
   */
  RD_AGENT_CAPTURE: z.enum(["auto", "damage", "grab"]).default("auto"),
  /**
   * The screen file of an Xvfb started with `-fbdir DIR` (DIR/Xvfb_screen0): capture by change then
   * copies changed rows from it instead of asking the X server (capture/x11/framebuffer-file.ts).
   * The agent's own displays (--virtual-display, --desk) set it themselves.
   */
  RD_AGENT_FRAMEBUFFER: z.string().min(1).optional(),
  /**
   * `on` (the default): a browser viewer gets a quiet or text-like screen as tiles on a data
   * channel, the way VNC codes text (scrolls moved, few-colour rectangles as palette indices), and
   * video only while the screen is full of motion (capture/tiles/tile-stream.ts). `off`: always
   * video. Needs capture by change (not RD_AGENT_CAPTURE=grab); the recorder always gets video.
   */
  RD_AGENT_TILES: z.enum(["on", "off"]).default("on"),
  /** The encoder's ceiling; receiver estimates lower it on slow links. */
  RD_AGENT_MAX_KBPS: z.coerce.number().int().min(100).max(50_000).default(4000),
  /** How long the person at the machine has to answer before the request is denied. */
  RD_AGENT_CONSENT_TIMEOUT_MS: z.coerce.number().int().min(1000).max(600_000).default(30_000),
});

export type AgentConfig = ReturnType<typeof loadConfig>;

/** Validates the environment; throws one readable message naming every bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env) {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid agent configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const configDir =
    e.RD_AGENT_CONFIG_DIR ??
    path.join(e.XDG_CONFIG_HOME ?? path.join(homedir(), ".config"), "remote-desk-agent");
  return {
    configDir,
    credentialFile: path.join(configDir, "credential.json"),
    display: e.DISPLAY,
    logLevel: e.RD_AGENT_LOG_LEVEL,
    iceServers: e.RD_ICE_SERVERS ?? [],
    codec: e.RD_AGENT_CODEC,
    fps: e.RD_AGENT_FPS,
    capture: e.RD_AGENT_CAPTURE,
    framebuffer: e.RD_AGENT_FRAMEBUFFER,
    tiles: e.RD_AGENT_TILES === "on",
    maxKbps: e.RD_AGENT_MAX_KBPS,
    consentTimeoutMs: e.RD_AGENT_CONSENT_TIMEOUT_MS,
  };
}
