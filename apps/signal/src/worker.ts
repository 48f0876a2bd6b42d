/**
 * Composition root of a signaling worker, shared by the Node and Deno entries: configuration, the
 * database (or the one the host process already has), the bus (in-process or Redis), the replay
 * guard, and the hub.
 */
import { makeDataDirPrivate } from "@rd/auth/private-files";
import { resolveSecret } from "@rd/auth/secret-file";
import { importTicketKey } from "@rd/auth/tickets";
import { createDb, type DbHandle } from "@rd/db";
import { createTurnIssuer } from "@rd/protocol";
import { Redis } from "ioredis";
import path from "node:path";
import { type Bus, InProcessBus } from "./bus.ts";
import { loadSignalEnv, type SignalEnv, type SignalTuning, tuningFrom, turnFrom } from "./config.ts";
import { SignalHub } from "./hub.ts";
import { createLogger, type Logger } from "@rd/log";
import { RedisBus } from "./redis-bus.ts";
import { MemoryReplayGuard, RedisReplayGuard, type ReplayGuard } from "./replay-guard.ts";
import { createDbStore } from "./store.ts";

export interface WorkerOptions {
  env: Record<string, string | undefined>;
  /** A database the host process already opened (the embedded PGlite can have one owner only). */
  database?: DbHandle;
  /** A bus of the caller's (tests that join workers in one process); in-process or Redis by default. */
  bus?: Bus;
  tuning?: Partial<SignalTuning>;
  workerId?: string;
  /**
   * This process is the worker's own (its Node or Deno entry): what it writes (the ticket secret,
   * PGlite) is made its owner's alone, and DATA_DIR tightened, before anything is opened. A host
   * that embeds a worker (the dashboard) has done that for itself.
   */
  ownsProcess?: boolean;
}

export interface Worker {
  env: SignalEnv;
  hub: SignalHub;
  log: Logger;
  close(): Promise<void>;
}

export async function createWorker(options: WorkerOptions): Promise<Worker> {
  const env = loadSignalEnv(options.env);
  const workerId = options.workerId ?? crypto.randomUUID().slice(0, 8);
  const log = createLogger(env.LOG_LEVEL, { name: "signal", worker: workerId });
  if (options.ownsProcess) await makeDataDirPrivate(path.resolve(env.DATA_DIR), log);
  const ownsDatabase = !options.database;
  const database =
    options.database ?? createDb({ url: env.DATABASE_URL, dataDir: path.resolve(env.DATA_DIR, "pglite") });
  if (ownsDatabase) await database.migrate();

  let bus: Bus;
  let replayGuard: ReplayGuard;
  let redis: Redis | undefined;
  if (options.bus) {
    bus = options.bus;
    replayGuard = new MemoryReplayGuard();
  } else if (env.REDIS_URL) {
    bus = new RedisBus(env.REDIS_URL, log);
    redis = new Redis(env.REDIS_URL, { maxRetriesPerRequest: 2 });
    replayGuard = new RedisReplayGuard(redis);
  } else {
    bus = new InProcessBus();
    replayGuard = new MemoryReplayGuard();
  }

  const turn = turnFrom(env);
  const hub = new SignalHub({
    workerId,
    store: createDbStore(database),
    bus,
    replayGuard,
    ticketKey: await importTicketKey(resolveSecret(env.RD_SECRET, env.DATA_DIR)),
    tuning: tuningFrom(env, options.tuning),
    log,
    ...(turn ? { turnCredentials: createTurnIssuer(turn) } : {}),
  });
  await hub.start();
  log.info(
    {
      bus: options.bus ? "shared" : env.REDIS_URL ? "redis" : "in-process",
      database: database.kind,
      // Where the relay is, never its secret.
      turn: turn?.urls ?? "off",
    },
    "signaling worker ready",
  );

  return {
    env,
    hub,
    log,
    async close() {
      await hub.stop();
      if (!options.bus) await bus.close();
      redis?.disconnect();
      if (ownsDatabase) await database.close();
    },
  };
}
