/**
 * A log that writes a kind of event at most once per interval and counts the rest, so a viewer
 * flooding the agent with bad input costs one line per interval instead of one per message.
 */
import type { Logger } from "@rd/log";

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface RateLimitedLog {
  /** Logs under `kind` unless a line of that kind was written less than an interval ago. */
  write(level: LogLevel, kind: string, fields: Record<string, unknown>, msg: string): void;
}

/** Long enough that a flood is a handful of lines a minute; short enough to show it is ongoing. */
const DEFAULT_INTERVAL_MS = 10_000;

export function createRateLimitedLog(
  log: Logger,
  intervalMs = DEFAULT_INTERVAL_MS,
  now: () => number = Date.now,
): RateLimitedLog {
  const kinds = new Map<string, { lastAt: number; suppressed: number }>();
  return {
    write(level, kind, fields, msg) {
      const at = now();
      const state = kinds.get(kind);
      if (state && at - state.lastAt < intervalMs) {
        state.suppressed++;
        return;
      }
      const suppressed = state?.suppressed ?? 0;
      kinds.set(kind, { lastAt: at, suppressed: 0 });
      log[level](suppressed > 0 ? { ...fields, kind, suppressed } : { ...fields, kind }, msg);
    },
  };
}
