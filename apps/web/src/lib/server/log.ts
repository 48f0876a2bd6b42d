/** The dashboard's one logger (structured JSON lines); modules take a child named for themselves. */
import pino from "pino";

/** Starts at info; `startApp()` applies LOG_LEVEL once the configuration is validated. */
export const log = pino({ name: "web", level: "info" });

/** Failed sign-ins and tripped limits: structured warnings with the client's address, no secrets. */
export function logSecurity(report: { type: string; ip: string; email?: string; reason: string }) {
  log.warn(
    { event: report.type, ip: report.ip, email: report.email, reason: report.reason },
    "sign-in refused",
  );
}
