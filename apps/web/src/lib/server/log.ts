/** The dashboard's one logger (structured JSON lines); modules take a child named for themselves. */
import pino from "pino";

export const log = pino({ name: "web", level: process.env.LOG_LEVEL ?? "info" });
