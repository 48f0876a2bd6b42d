/** @rd/log: a tiny structured logger (JSON lines) that runs unchanged on Node and Deno; one per app, a child per module. */
export type LogLevel = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface Logger {
  debug(fields: Record<string, unknown>, msg: string): void;
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
  child(fields: Record<string, unknown>): Logger;
}

export function createLogger(level: LogLevel, base: Record<string, unknown>): Logger {
  const write = (at: Exclude<LogLevel, "silent">) => (fields: Record<string, unknown>, msg: string) => {
    if (RANK[at] < RANK[level]) return;
    const line = JSON.stringify({ level: at, time: Date.now(), ...base, ...fields, msg }, (_k, v) =>
      v instanceof Error ? { message: v.message, stack: v.stack } : v,
    );
    (at === "error" || at === "warn" ? console.error : console.log)(line);
  };
  return {
    debug: write("debug"),
    info: write("info"),
    warn: write("warn"),
    error: write("error"),
    child: (fields) => createLogger(level, { ...base, ...fields }),
  };
}
