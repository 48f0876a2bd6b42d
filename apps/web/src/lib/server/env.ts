/**
 * The dashboard's configuration: every environment variable it reads, validated once, with defaults
 * for the embedded single-machine run. Listed with the same defaults in the README.
 */
import { env as raw } from "$env/dynamic/private";
import { parseDeskPool } from "@rd/api";
import { z } from "zod";

const optional = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .optional();

const schema = z.object({
  DATABASE_URL: optional.pipe(
    z
      .string()
      .regex(/^postgres(ql)?:\/\//, { error: "must be a postgres:// URL" })
      .optional(),
  ),
  DATA_DIR: z.string().default(".data"),
  /** Signs signaling tickets; shared with the signaling worker. Unset: a generated one in DATA_DIR. */
  RD_SECRET: optional,
  MIGRATIONS_DIR: z.string().default("drizzle"),
  RD_ADMIN_EMAIL: optional.pipe(z.email({ error: "must be an email address" }).optional()),
  RD_ADMIN_PASSWORD: optional,
  RD_ADMIN_NAME: z.string().default("Administrator"),
  RD_WORKSPACE_NAME: z.string().default("My workspace"),
  /** "auto" marks cookies Secure when the request arrived over HTTPS. */
  COOKIE_SECURE: z.enum(["auto", "true", "false"]).default("auto"),
  /** Where agents and browsers reach the signaling worker; by default this host on SIGNAL_PORT. */
  SIGNAL_PORT: z.coerce.number().int().min(1).max(65535).default(8787),
  SIGNAL_PUBLIC_URL: optional.pipe(
    z
      .string()
      .regex(/^wss?:\/\//, { error: "must be a ws:// or wss:// URL" })
      .optional(),
  ),
  LOG_LEVEL: z.enum(["trace", "debug", "info", "warn", "error", "fatal", "silent"]).default("info"),
  /** The address the dashboard (and the embedded worker) listen on: this machine only, unless told. */
  HOST: z.string().trim().min(1).default("127.0.0.1"),
  /** The dashboard's public URL when behind a proxy (adapter-node's ORIGIN); its host is allowed. */
  ORIGIN: optional.pipe(z.url({ error: "must be a URL like https://desk.example.com" }).optional()),
  /**
   * Host names the dashboard answers to besides loopback, this machine's addresses and ORIGIN's
   * host (comma-separated; `*` for any, behind a proxy that checks Host).
   */
  RD_ALLOWED_HOSTS: z
    .string()
    .default("")
    .transform((v) =>
      v
        .split(",")
        .map((h) => h.trim())
        .filter(Boolean),
    ),
  /** The dashboard's own port; the demo agent enrolls through it. */
  PORT: z.coerce.number().int().min(1).max(65535).default(3000),
  /** `false` leaves the signaling worker out of this process (it runs on its own). */
  SIGNAL_EMBEDDED: z.enum(["true", "false"]).default("true"),
  /** `npm start` sets `true`: a real agent on a virtual display, enrolled once the first admin exists. */
  RD_DEMO_AGENT: z.enum(["true", "false"]).default("false"),
  /**
   * `true` (default): this process runs interview desks on this machine (bubblewrap sandboxes; needs
   * Linux with bubblewrap and Xvfb, else every desk fails saying so). `false`: desks are refused.
   */
  RD_DESKS: z.enum(["true", "false"]).default("true"),
  /**
   * `true` (default): this process records sessions (the recorder joins them through the embedded
   * worker). `false`: recordings wait for a recorder process of their own.
   */
  RD_RECORDER: z.enum(["true", "false"]).default("true"),
  /**
   * Warm desks kept ready per tenant, as template:size pairs ("interview:1"); `npm start` keeps one.
   * A warm desk costs an idle desktop's memory (~100 MiB) and saves its start (~1-2 s) on Create.
   */
  RD_DESK_POOL: z
    .string()
    .default("")
    .superRefine((text, ctx) => {
      try {
        parseDeskPool(text);
      } catch (error) {
        ctx.addIssue({ code: "custom", message: (error as Error).message });
      }
    }),
  /** Most observers a session may have besides its controller. */
  RD_MAX_OBSERVERS: z.coerce.number().int().min(0).max(32).default(8),
});

export type Env = z.infer<typeof schema>;

export function loadEnv(source: Record<string, string | undefined> = raw): Env {
  const result = schema.safeParse(source);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid configuration — fix these environment variables:\n${lines.join("\n")}`);
  }
  const env = result.data;
  if (!!env.RD_ADMIN_EMAIL !== !!env.RD_ADMIN_PASSWORD) {
    throw new Error("Invalid configuration — set both RD_ADMIN_EMAIL and RD_ADMIN_PASSWORD, or neither.");
  }
  return env;
}
