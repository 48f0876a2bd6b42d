/**
 * Recording in the dashboard's process: the store (local files under DATA_DIR, or S3-compatible),
 * the keyring that wraps each recording's key with one derived from the server secret, and — unless
 * RD_RECORDER=false (recorders run on their own, `node packages/recording/src/main.ts`) — the
 * recorder itself, joining sessions through this server's signaling worker.
 */
import path from "node:path";
import type { DbHandle } from "@rd/db";
import {
  createKeyring,
  createStore,
  type RecordingKeyring,
  loadRecordingConfig,
  RecorderService,
  type RecordingStore,
} from "@rd/recording";
import type { Env } from "./env.ts";
import { log } from "./log.ts";

export interface Recording {
  store: RecordingStore;
  keyring: RecordingKeyring;
  /** The recorder of this process, when it runs one. */
  recorder?: RecorderService;
  stop(): Promise<void>;
}

export async function startRecording(
  env: Env,
  rawEnv: Record<string, string | undefined>,
  { database, secret, ticketKey }: { database: DbHandle; secret: string; ticketKey: CryptoKey },
): Promise<Recording> {
  const config = loadRecordingConfig(rawEnv, path.resolve(env.DATA_DIR));
  const store = createStore(config);
  const keyring = createKeyring(secret);
  const recorder =
    env.RD_RECORDER === "true"
      ? new RecorderService({
          handle: database,
          store,
          keyring,
          ticketKey,
          // The embedded worker on this machine; a fleet's recorders use SIGNAL_PUBLIC_URL.
          signalUrl: env.SIGNAL_PUBLIC_URL ?? `ws://127.0.0.1:${env.SIGNAL_PORT}/ws`,
          log: log.child({ module: "recording" }),
        })
      : undefined;
  await recorder?.start();
  log.info({ store: store.kind, recorder: !!recorder }, "recording ready");
  return { store, keyring, recorder, stop: async () => await recorder?.stop() };
}
