/**
 * The data-channel protocol between a viewer and an agent, one zod discriminated union per channel:
 * `input` (pointer, wheel, keys; unordered-tolerant, sent often) and `control` (clipboard, screen
 * size, stats, quality). Coordinates are normalized to 0..1 so the viewer never needs the remote
 * screen's real size; the agent maps them. Every string and number is bounded, so a parsed message
 * is always safe to act on.
 */
import { z } from "zod";

export const DATA_CHANNELS = { input: "input", control: "control", screen: "screen" } as const;

export const DATA_LIMITS = {
  /** A channel message larger than this is dropped unparsed. Clipboard text plus JSON escaping. */
  maxMessageBytes: 300 * 1024,
  /** Clipboard text in either direction; longer text is refused with a message, never cut silently. */
  clipboardChars: 64 * 1024,
  /** Input events per second a viewer may send before the agent starts dropping them. */
  inputPerSecond: 500,
  inputBurst: 1000,
} as const;

/** The pointer buttons a browser reports as `MouseEvent.button`: 0 left, 1 middle, 2 right. */
export const POINTER_BUTTONS = [0, 1, 2] as const;

/** Modifier state that travels with every key event, so the agent can repair a missed key-up. */
const modifiers = z.strictObject({
  ctrl: z.boolean(),
  shift: z.boolean(),
  alt: z.boolean(),
  meta: z.boolean(),
});
export type Modifiers = z.infer<typeof modifiers>;

/**
 * Key combinations a toolbar offers because the viewer's own OS would swallow them
 * (Ctrl+Alt+Del on Windows, Alt+Tab everywhere, the Super key, Print Screen).
 */
export const SPECIAL_KEYS = [
  "ctrl-alt-del",
  "alt-tab",
  "alt-f4",
  "super",
  "print-screen",
  "ctrl-esc",
] as const;
export type SpecialKey = (typeof SPECIAL_KEYS)[number];

/** Clamping is the agent's job (an out-of-range coordinate is clamped, not refused): see input.ts. */
const coordinate = z.number().finite();

export const inputMessage = z.discriminatedUnion("type", [
  z.strictObject({
    type: z.literal("input/pointer"),
    action: z.enum(["move", "down", "up"]),
    x: coordinate,
    y: coordinate,
    button: z.union(POINTER_BUTTONS.map((b) => z.literal(b))).optional(),
  }),
  /** Wheel steps: positive dy scrolls down, positive dx right; a notch is 1. */
  z.strictObject({
    type: z.literal("input/wheel"),
    dx: z.number().finite().min(-50).max(50),
    dy: z.number().finite().min(-50).max(50),
  }),
  /** `code` names the physical key (KeyboardEvent.code); `key` the character it produced. */
  z.strictObject({
    type: z.literal("input/key"),
    action: z.enum(["down", "up"]),
    code: z.string().min(1).max(32),
    key: z.string().max(32),
    modifiers,
  }),
  z.strictObject({ type: z.literal("input/special"), combo: z.enum(SPECIAL_KEYS) }),
  /** Sent when the viewer loses focus: everything held goes up. */
  z.strictObject({ type: z.literal("input/release-all") }),
]);
export type InputMessage = z.infer<typeof inputMessage>;

export const QUALITY_PRESETS = ["auto", "low", "balanced", "high"] as const;
export type QualityPreset = (typeof QUALITY_PRESETS)[number];

export const controlMessage = z.discriminatedUnion("type", [
  /** Either direction: the clipboard's text changed on that side. */
  z.strictObject({ type: z.literal("control/clipboard"), text: z.string().max(DATA_LIMITS.clipboardChars) }),
  /** Agent → viewer: the captured screen, sent on connect and whenever it changes. */
  z.strictObject({
    type: z.literal("control/screen"),
    width: z.number().int().min(1).max(16384),
    height: z.number().int().min(1).max(16384),
  }),
  /** Agent → viewer: what the encoder is doing, for the stats overlay. */
  z.strictObject({
    type: z.literal("control/stats"),
    codec: z.string().max(32),
    targetKbps: z.number().finite().min(0),
    fps: z.number().finite().min(0),
  }),
  z.strictObject({ type: z.literal("control/quality"), preset: z.enum(QUALITY_PRESETS) }),
  /**
   * Agent → the recorder, once a second while the controller is active: how many pointer clicks and
   * key presses it injected (counts for the replay's activity lane, never which keys).
   */
  z.strictObject({
    type: z.literal("control/activity"),
    clicks: z.number().int().min(0).max(10_000),
    keys: z.number().int().min(0).max(10_000),
  }),
  /** Agent → viewer: something the viewer should show the technician (clipboard too big, say). */
  z.strictObject({
    type: z.literal("control/notice"),
    level: z.enum(["info", "warning"]),
    message: z.string().max(500),
  }),
]);
export type ControlMessage = z.infer<typeof controlMessage>;

export type DataParseResult<T> = { ok: true; message: T } | { ok: false; error: string };

function parseWith<T>(schema: z.ZodType<T>, frame: unknown): DataParseResult<T> {
  if (typeof frame !== "string") return { ok: false, error: "binary messages are not part of the protocol" };
  if (frame.length > DATA_LIMITS.maxMessageBytes) {
    return { ok: false, error: `messages are limited to ${DATA_LIMITS.maxMessageBytes} bytes` };
  }
  let json: unknown;
  try {
    json = JSON.parse(frame);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  const result = schema.safeParse(json);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join(".")}: ` : "";
  return { ok: false, error: `${where}${issue?.message ?? "invalid message"}` };
}

/** Parses one message of the `input` channel. */
export const parseInputMessage = (frame: unknown) => parseWith(inputMessage, frame);
/** Parses one message of the `control` channel. */
export const parseControlMessage = (frame: unknown) => parseWith(controlMessage, frame);
