/**
 * Composition root of the dashboard's server side, created once in the `init` hook and shared by
 * every request: configuration, the database (migrated), auth and sign-in limits; then, in the
 * embedded single-machine run, the signaling worker on the same database (the embedded PGlite can
 * have one owner only, so it is handed over, not opened twice) and the demo agent. It all stops on
 * `sveltekit:shutdown`, the event adapter-node (and apps/web/serve.ts) emits once HTTP has closed.
 */
import path from "node:path";
import { needsSetup, setupFirstAdmin } from "@rd/api";
import {
  createAuth,
  createSecretBox,
  createSignInLimits,
  PASSWORD_MIN_LENGTH,
  resolveSecret,
  type Auth,
  type SecretBox,
  type SignInLimits,
} from "@rd/auth";
import { importTicketKey } from "@rd/auth/tickets";
import { createDb, type DbHandle } from "@rd/db";
import { startNodeSignal } from "@rd/signal/node";
import { env as rawEnv } from "$env/dynamic/private";
import { createHostCheck } from "./allowed-hosts.ts";
import { type AuditSigning, startAuditSigning } from "./audit-signing.ts";
import { startDemoAgent } from "./demo-agent.ts";
import { startDeskHosting } from "./desk-hosting.ts";
import { loadEnv, type Env } from "./env.ts";
import { type Recording, startRecording } from "./recording.ts";
import { log } from "./log.ts";
import { createSetupToken, type SetupToken } from "./setup-token.ts";

export interface App {
  env: Env;
  database: DbHandle;
  /** Whether cookies set for a request to `url` are Secure (COOKIE_SECURE: auto = over HTTPS). */
  secureCookies(url: URL): boolean;
  /** Auth whose session cookies follow `secureCookies(url)`. */
  authFor(url: URL): Auth;
  signInLimits: SignInLimits;
  ticketKey: CryptoKey;
  /** Seals two-factor secrets at rest. */
  secretBox: SecretBox;
  /** Seals the short-lived "password right, second factor owed" cookie. */
  pendingSignInBox: SecretBox;
  /** The first-run setup token; null once a first admin exists. */
  setupToken: SetupToken | null;
  /** Whether a Host header names this dashboard (see allowed-hosts.ts). */
  hostAllowed(host: string | null): boolean;
  /**
   * The signaling worker's WebSocket URL for a client that reached us at `requestUrl` (whose host
   * passed `hostAllowed`): SIGNAL_PUBLIC_URL, else ORIGIN's host, else the request's host.
   */
  signalUrl(requestUrl: URL): string;
  /** Where recordings are stored and how their keys are unwrapped (and this process's recorder). */
  recording: Recording;
  /** The audit chain's head signer. */
  auditSigning: AuditSigning;
}

let app: App | undefined;

export function getApp(): App {
  if (!app) throw new Error("The dashboard server is not initialised yet (the init hook has not run).");
  return app;
}

export async function startApp(): Promise<App> {
  const env = loadEnv();
  log.level = env.LOG_LEVEL;
  const database = createDb({ url: env.DATABASE_URL, dataDir: path.resolve(env.DATA_DIR, "pglite") });
  await database.migrate(path.resolve(env.MIGRATIONS_DIR));
  log.info({ database: database.kind }, "database ready");
  // Signs the audit chain's head every N events or T seconds; registers its public key on start.
  const auditSigning = await startAuditSigning(database, {
    dataDir: path.resolve(env.DATA_DIR),
    env: rawEnv,
  });
  await seedAdmin(env, database);
  const setupToken = (await needsSetup(database.db))
    ? await createSetupToken(env.DATA_DIR, (line) => log.warn(`[remote-desk] ${line}`))
    : null;
  // The embedded worker listens where the dashboard does unless SIGNAL_HOST says otherwise.
  const signalEnv = { ...rawEnv, SIGNAL_HOST: rawEnv.SIGNAL_HOST || env.HOST };
  const signal =
    env.SIGNAL_EMBEDDED === "true" ? await startNodeSignal({ env: signalEnv, database }) : undefined;
  const demo =
    env.RD_DEMO_AGENT === "true"
      ? startDemoAgent({
          db: database.db,
          serverUrl: `http://127.0.0.1:${env.PORT}`,
          dataDir: env.DATA_DIR,
          say: (message) => log.info(`[remote-desk] ${message}`),
        })
      : undefined;
  const desks = env.RD_DESKS === "true" ? await startDeskHosting(env, database) : undefined;
  const secret = resolveSecret(env.RD_SECRET, env.DATA_DIR);
  const ticketKey = await importTicketKey(secret);
  const recording = await startRecording(env, rawEnv, { database, secret, ticketKey });
  process.once("sveltekit:shutdown" as "exit", () => {
    void (async () => {
      await recording.stop();
      await desks?.stop();
      await demo?.stop();
      await signal?.close();
      await auditSigning.stop();
      await database.close();
    })().catch((error: unknown) => log.error({ err: error }, "shutdown failed"));
  });
  const secureCookies = (url: URL) =>
    env.COOKIE_SECURE === "auto" ? url.protocol === "https:" : env.COOKIE_SECURE === "true";
  const secureAuth = createAuth(database.db, { secureCookies: true });
  const plainAuth = createAuth(database.db, { secureCookies: false });
  const publicHost = env.ORIGIN ? new URL(env.ORIGIN).hostname : null;
  app = {
    env,
    database,
    secureCookies,
    authFor: (url) => (secureCookies(url) ? secureAuth : plainAuth),
    signInLimits: createSignInLimits(),
    ticketKey,
    secretBox: createSecretBox(secret, "totp"),
    pendingSignInBox: createSecretBox(secret, "pending-sign-in"),
    setupToken,
    hostAllowed: createHostCheck({ origin: env.ORIGIN, allowed: env.RD_ALLOWED_HOSTS }),
    signalUrl: (requestUrl) =>
      env.SIGNAL_PUBLIC_URL ??
      `${requestUrl.protocol === "https:" ? "wss" : "ws"}://${publicHost ?? requestUrl.hostname}:${env.SIGNAL_PORT}/ws`,
    recording,
    auditSigning,
  };
  return app;
}

/** RD_ADMIN_EMAIL + RD_ADMIN_PASSWORD create the first admin without the setup page. */
async function seedAdmin(env: Env, database: DbHandle) {
  if (!env.RD_ADMIN_EMAIL || !env.RD_ADMIN_PASSWORD) return;
  if (!(await needsSetup(database.db))) return;
  if (env.RD_ADMIN_PASSWORD.length < PASSWORD_MIN_LENGTH) {
    throw new Error(`RD_ADMIN_PASSWORD must be at least ${PASSWORD_MIN_LENGTH} characters.`);
  }
  const created = await setupFirstAdmin(database.db, {
    workspace: env.RD_WORKSPACE_NAME,
    name: env.RD_ADMIN_NAME,
    email: env.RD_ADMIN_EMAIL,
    password: env.RD_ADMIN_PASSWORD,
  });
  if (created) log.info({ email: env.RD_ADMIN_EMAIL }, "created the first admin from RD_ADMIN_EMAIL");
}
