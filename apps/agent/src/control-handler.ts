/**
 * The `control` data channel's handler for one viewer: a budget first (before a frame is even
 * parsed), then decode and dispatch. Setting the remote clipboard is control, so only the
 * participant in control may, and then only what the session's clipboard policy lets in; every
 * viewer picks their own picture quality.
 */
import type { Logger } from "@rd/log";
import { type ControlMessage, parseControlMessage, type QualityPreset, TokenBucket } from "@rd/protocol";
import type { Clipboard } from "./clipboard.ts";
import type { ClipboardGate } from "./clipboard-gate.ts";
import { createRateLimitedLog } from "./input/rate-limited-log.ts";

export interface ControlHandlerOptions {
  /** The desktop's clipboard; without one, clipboard messages are ignored. */
  clipboard?: Clipboard;
  /** The session's clipboard policy; without one, whatever the controller pastes is written. */
  gate?: ClipboardGate;
  /** Who this viewer is, named in the audit report of their pastes. */
  participantId?: string;
  /** Whether this viewer holds control now. */
  inControl(): boolean;
  /** Sends a message back to this viewer (best-effort, like the channel itself). */
  reply(message: ControlMessage): void;
  /** Caps this viewer's video at a preset. */
  setQuality(preset: QualityPreset): void;
  log: Logger;
  /** Messages a second and burst; CONTROL_LIMITS unless a test needs others. */
  limits?: { perSecond: number; burst: number };
  /** The token bucket's clock. */
  now?: () => number;
}

export interface ControlHandler {
  /** Handles one frame of the control channel. Never throws; a refused frame is logged and counted. */
  handle(frame: string | Buffer): void;
  /** Frames refused: over the budget, or not a valid control message. */
  dropped(): number;
}

/**
 * What a viewer sends on this channel comes from a person's clicks ("Send clipboard", the quality
 * menu), a few a minute. 5 a second with a burst of 10 never gets in their way, while a page gone
 * rogue gets at most 5 messages of up to 300 KiB a second parsed, and at most 5 clipboard writes
 * asked for (which the clipboard then runs one at a time, newest first).
 */
export const CONTROL_LIMITS = { perSecond: 5, burst: 10 } as const;

export function createControlHandler(options: ControlHandlerOptions): ControlHandler {
  const { clipboard, gate, participantId, inControl, reply, setQuality } = options;
  const log = createRateLimitedLog(options.log);
  const limits = options.limits ?? CONTROL_LIMITS;
  const budget = new TokenBucket(limits.perSecond, limits.burst, options.now ?? Date.now);
  let dropped = 0;

  const dispatch = (message: ControlMessage) => {
    if (message.type === "control/clipboard") {
      if (!inControl()) {
        return reply({
          type: "control/notice",
          level: "warning",
          message: "Only the participant in control can set the remote clipboard.",
        });
      }
      if (!clipboard) return;
      // Decided before writing: a blocked paste never reaches the desktop. The reply says why in
      // words and never echoes the text.
      const decision = gate?.decide("in", message.text, participantId);
      if (decision && !decision.allowed) {
        return reply({ type: "control/notice", level: "warning", message: decision.why });
      }
      void clipboard.write(message.text).catch((error: unknown) =>
        reply({
          type: "control/notice",
          level: "warning",
          message: `Could not set the remote clipboard: ${(error as Error).message}`.slice(0, 500),
        }),
      );
    } else if (message.type === "control/quality") {
      setQuality(message.preset);
    }
    // screen, stats and notice travel from the agent to viewers; a viewer sending them is ignored.
  };

  return {
    handle(frame) {
      if (!budget.take()) {
        dropped++;
        return log.write("warn", "over-budget", {}, "viewer over its control budget; dropping messages");
      }
      const parsed = parseControlMessage(typeof frame === "string" ? frame : frame.toString("utf8"));
      if (!parsed.ok) {
        dropped++;
        return log.write("debug", "invalid", { error: parsed.error }, "dropped an invalid control message");
      }
      dispatch(parsed.message);
    },
    dropped: () => dropped,
  };
}
