/**
 * Signed audit chain heads in the dashboard process (design flow 6): the Ed25519 key from
 * RD_AUDIT_SIGNING_KEY or generated once into DATA_DIR, and the head signer (@rd/db) that polls
 * every tenant's chain and signs its head every RD_AUDIT_SIGN_EVERY_EVENTS events or
 * RD_AUDIT_SIGN_EVERY_SECONDS seconds, whichever comes first — whoever appended the events.
 */
import {
  AuditHeadSigner,
  type DbHandle,
  DEFAULT_UNSIGNED_GRACE_MS,
  loadOrCreateSigningKey,
  SIGNING_KEY_FILE,
} from "@rd/db";
import { z } from "zod";
import { log } from "./log.ts";

const optional = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .optional();

/** An empty or blank value counts as unset (so the default applies), as an env file often has them. */
const blankAsUnset = <T extends z.ZodType>(schema: T) =>
  z.preprocess((value) => (typeof value === "string" && value.trim() === "" ? undefined : value), schema);

/**
 * Longest signing interval: a minute less than the grace after which Verify chain reports events
 * that no signed head covers (DEFAULT_UNSIGNED_GRACE_MS, 5 minutes), so a running signer always
 * signs them in time, polls and a slow database included.
 */
const MAX_SIGN_EVERY_SECONDS = DEFAULT_UNSIGNED_GRACE_MS / 1000 - 60;

const schema = z.object({
  /** PKCS#8 PEM of an Ed25519 private key; unset: one generated into DATA_DIR on first start. */
  RD_AUDIT_SIGNING_KEY: optional,
  /** Sign a tenant's head once this many of its events are unsigned. */
  RD_AUDIT_SIGN_EVERY_EVENTS: blankAsUnset(
    z.coerce
      .number({ error: "must be a whole number of events, e.g. 100" })
      .int({ error: "must be a whole number of events, e.g. 100" })
      .min(1, { error: "must be at least 1" })
      .max(1_000_000, { error: "must be at most 1000000" })
      .default(100),
  ),
  /** Sign any unsigned event once the tenant's last head (or its first event) is this old. */
  RD_AUDIT_SIGN_EVERY_SECONDS: blankAsUnset(
    z.coerce
      .number({ error: "must be a number of seconds, e.g. 60" })
      .min(1, { error: "must be at least 1 second" })
      .max(MAX_SIGN_EVERY_SECONDS, {
        error: `must be at most ${MAX_SIGN_EVERY_SECONDS}: Verify chain reports events unsigned after ${DEFAULT_UNSIGNED_GRACE_MS / 60_000} minutes`,
      })
      .default(60),
  ),
});

export type AuditSigningEnv = z.infer<typeof schema>;

/** Validates the audit signing settings; throws one error naming every bad variable. */
export function parseAuditSigningEnv(env: Record<string, string | undefined>): AuditSigningEnv {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`Invalid configuration — fix these environment variables:\n${lines.join("\n")}`);
  }
  return result.data;
}

export interface AuditSigning {
  /** Stops the signer once a signing in flight is written. */
  stop(): Promise<void>;
  /** The signing key's fingerprint (hex SHA-256 of its raw public key). */
  fingerprint: string;
  /** Signs the workspace's chain head now (an export then ends on a signed head). */
  signNow(tenantId: string): Promise<void>;
}

/**
 * Loads (or creates) the signing key, registers it and starts the head signer on `database`.
 * `dataDir` is the dashboard's DATA_DIR, where a generated key is kept.
 */
export async function startAuditSigning(
  database: DbHandle,
  options: { dataDir: string; env: Record<string, string | undefined> },
): Promise<AuditSigning> {
  const settings = parseAuditSigningEnv(options.env);
  let key;
  try {
    key = await loadOrCreateSigningKey({
      dataDir: options.dataDir,
      configured: settings.RD_AUDIT_SIGNING_KEY,
    });
  } catch (error) {
    throw new Error(`Invalid configuration — ${(error as Error).message}.`, { cause: error });
  }
  const moduleLog = log.child({ module: "audit-signing" });
  const signer = new AuditHeadSigner({
    db: database.db,
    key,
    everyEvents: settings.RD_AUDIT_SIGN_EVERY_EVENTS,
    everyMs: settings.RD_AUDIT_SIGN_EVERY_SECONDS * 1000,
    log: moduleLog,
  });
  await signer.start();
  moduleLog.info(
    {
      fingerprint: key.id,
      source: key.source,
      everyEvents: settings.RD_AUDIT_SIGN_EVERY_EVENTS,
      everySeconds: settings.RD_AUDIT_SIGN_EVERY_SECONDS,
    },
    "audit chain heads are signed",
  );
  if (key.source === "generated") {
    moduleLog.warn(
      { file: SIGNING_KEY_FILE },
      "generated a new audit signing key in the data directory: back it up, or set RD_AUDIT_SIGNING_KEY",
    );
  }
  return {
    stop: () => signer.stop(),
    fingerprint: key.id,
    signNow: async (tenantId) => void (await signer.signHeadOf(tenantId)),
  };
}
