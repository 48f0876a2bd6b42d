/** The dashboard's one logger (structured JSON lines); modules take a child named for themselves. */
import pino from "pino";

/** Starts at info; `startApp()` applies LOG_LEVEL once the configuration is validated. */
export const log = pino({ name: "web", level: "info" });
