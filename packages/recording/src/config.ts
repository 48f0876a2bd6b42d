/**
 * Where recordings are stored: the RD_RECORDING_* and RD_S3_* environment variables, validated
 * once at startup, and the store they describe. The default — files under DATA_DIR — needs no
 * setting at all on a single machine.
 */
import { join } from "node:path";
import { z } from "zod";
import type { RecordingStore } from "./contracts.ts";
import { LocalStore } from "./stores/local.ts";
import { S3Store, type S3StoreConfig } from "./stores/s3.ts";

export type RecordingConfig = { store: "local"; dir: string } | { store: "s3"; s3: S3StoreConfig };

/** An unset or blank variable is absent (compose files often pass `VAR=`). */
const optional = z
  .string()
  .trim()
  .transform((v) => v || undefined)
  .optional();

const schema = z
  .object({
    RD_RECORDING_STORE: optional.pipe(
      z
        .enum(["local", "s3"], { error: 'must be "local" (files under the data directory) or "s3"' })
        .default("local"),
    ),
    RD_RECORDING_DIR: optional,
    RD_S3_ENDPOINT: optional.pipe(
      z
        .url({
          protocol: /^https?$/,
          error: "must be an http:// or https:// URL, e.g. https://minio.example:9000",
        })
        .optional(),
    ),
    RD_S3_BUCKET: optional,
    RD_S3_REGION: optional.pipe(z.string().default("us-east-1")),
    RD_S3_ACCESS_KEY_ID: optional,
    RD_S3_SECRET_ACCESS_KEY: optional,
    RD_S3_FORCE_PATH_STYLE: optional.pipe(
      z
        .enum(["true", "false", "1", "0"], { error: 'must be "true" or "false"' })
        .default("true")
        .transform((v) => v === "true" || v === "1"),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.RD_RECORDING_STORE !== "s3") return;
    const required = {
      RD_S3_BUCKET: "the bucket to keep recordings in",
      RD_S3_ACCESS_KEY_ID: "the access key of a user allowed to read, write, list and delete in it",
      RD_S3_SECRET_ACCESS_KEY: "that access key's secret",
    } as const;
    for (const [name, what] of Object.entries(required)) {
      if (!env[name as keyof typeof required]) {
        ctx.addIssue({
          code: "custom",
          path: [name],
          message: `is required with RD_RECORDING_STORE=s3: set it to ${what}`,
        });
      }
    }
  });

/**
 * Reads the recording store settings; throws one error listing every variable that is wrong and
 * what to set it to.
 *
 * @param env The process environment (or a test's).
 * @param dataDir The server's DATA_DIR: local recordings go to `<dataDir>/recordings` by default.
 */
export function loadRecordingConfig(
  env: Record<string, string | undefined>,
  dataDir: string,
): RecordingConfig {
  const result = schema.safeParse(env);
  if (!result.success) {
    const lines = result.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(
      `Invalid recording storage configuration — fix these environment variables:\n${lines.join("\n")}`,
    );
  }
  const e = result.data;
  if (e.RD_RECORDING_STORE === "local") {
    return { store: "local", dir: e.RD_RECORDING_DIR ?? join(dataDir, "recordings") };
  }
  return {
    store: "s3",
    s3: {
      ...(e.RD_S3_ENDPOINT ? { endpoint: e.RD_S3_ENDPOINT } : {}),
      bucket: e.RD_S3_BUCKET!,
      region: e.RD_S3_REGION,
      accessKeyId: e.RD_S3_ACCESS_KEY_ID!,
      secretAccessKey: e.RD_S3_SECRET_ACCESS_KEY!,
      forcePathStyle: e.RD_S3_FORCE_PATH_STYLE,
    },
  };
}

/** The store `config` describes. Opens no connection and touches no file until first used. */
export function createStore(config: RecordingConfig): RecordingStore {
  return config.store === "local" ? new LocalStore(config.dir) : new S3Store(config.s3);
}
