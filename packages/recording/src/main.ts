/**
 * A recorder on its own: `node packages/recording/src/main.ts`. Recorders scale out like signaling
 * workers: run as many as needed against the same database (claims and leases keep one writer per
 * recording). Needs DATABASE_URL (the embedded PGlite belongs to the dashboard), RD_SECRET (the
 * dashboard's: tickets and recording keys derive from it), SIGNAL_URL (a worker's ws:// URL), and
 * the same RD_RECORDING_STORE settings as the dashboard so both read and write the same store.
 */
import { importTicketKey } from "@rd/auth/tickets";
import { createDb } from "@rd/db";
import { createLogger } from "@rd/log";
import { z } from "zod";
import { createStore, loadRecordingConfig } from "./config.ts";
import { RecorderService } from "./recorder/recorder-service.ts";
import { createKeyring } from "./segment-crypto.ts";

const schema = z.object({
  DATABASE_URL: z.string().regex(/^postgres(ql)?:\/\//, {
    error:
      "DATABASE_URL must be the dashboard's postgres:// URL (a recorder cannot share the embedded database)",
  }),
  RD_SECRET: z
    .string()
    .min(32, { error: "RD_SECRET must be the dashboard's secret (at least 32 characters)" }),
  SIGNAL_URL: z
    .string()
    .regex(/^wss?:\/\//, { error: "SIGNAL_URL must be a signaling worker's ws:// or wss:// URL" }),
  DATA_DIR: z.string().default(".data"),
  RD_RECORDER_MAX: z.coerce.number().int().min(1).max(500).default(10),
  LOG_LEVEL: z.enum(["debug", "info", "warn", "error", "silent"]).default("info"),
});

if (import.meta.main) {
  const parsed = schema.safeParse(process.env);
  if (!parsed.success) {
    for (const issue of parsed.error.issues)
      console.error(`recorder: ${issue.path.join(".")}: ${issue.message}`);
    process.exit(2);
  }
  const env = parsed.data;
  const log = createLogger(env.LOG_LEVEL, { service: "recorder" });
  const database = createDb({ url: env.DATABASE_URL });
  const store = createStore(loadRecordingConfig(process.env, env.DATA_DIR));
  const service = new RecorderService({
    handle: database,
    store,
    keyring: createKeyring(env.RD_SECRET),
    ticketKey: await importTicketKey(env.RD_SECRET),
    signalUrl: env.SIGNAL_URL,
    maxRecordings: env.RD_RECORDER_MAX,
    log,
  });
  await service.start();
  log.info({ holder: service.holder, store: store.kind }, "recorder started");
  const stop = () =>
    void service
      .stop()
      .then(() => database.close())
      .then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
