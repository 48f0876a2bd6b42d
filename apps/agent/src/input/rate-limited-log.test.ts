import type { Logger } from "@rd/log";
import { describe, expect, it } from "vitest";
import { createRateLimitedLog } from "./rate-limited-log.ts";

/** A Logger that keeps its lines, to count them. */
function recordingLogger() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const at =
    (level: string) =>
    (fields: Record<string, unknown>, msg: string): void =>
      void lines.push({ level, fields, msg });
  const logger: Logger = {
    debug: at("debug"),
    info: at("info"),
    warn: at("warn"),
    error: at("error"),
    child: () => logger,
  };
  return { logger, lines };
}

describe("createRateLimitedLog", () => {
  it("writes one line per kind per interval and counts the ones it held back", () => {
    const { logger, lines } = recordingLogger();
    let now = 0;
    const log = createRateLimitedLog(logger, 1_000, () => now);
    for (let i = 0; i < 100; i++) log.write("warn", "malformed", { i }, "bad frame");
    log.write("debug", "unknown-key", {}, "unknown key");
    expect(lines).toEqual([
      { level: "warn", fields: { i: 0, kind: "malformed" }, msg: "bad frame" },
      { level: "debug", fields: { kind: "unknown-key" }, msg: "unknown key" },
    ]);

    now = 1_000;
    log.write("warn", "malformed", { i: 100 }, "bad frame");
    expect(lines[2]).toEqual({
      level: "warn",
      fields: { i: 100, kind: "malformed", suppressed: 99 },
      msg: "bad frame",
    });
  });
});
