/**
 * Interview desks on this machine (RD_DESKS=true, the default): the desk host (@rd/api) with the
 * local bubblewrap provider (@rd/sandbox). Its sandboxes live under a base directory of this
 * dashboard's own (named after DATA_DIR), so two dashboards on one machine never reap each other's
 * desks; its desk agents' credentials live in DATA_DIR/desks, which no desk can see. Without
 * bubblewrap or Xvfb the host still runs and every desk fails with a sentence saying what to install.
 */
import { createHash } from "node:crypto";
import { access } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { DeskHost, parseDeskPool } from "@rd/api";
import type { DbHandle } from "@rd/db";
import { DeskProviderUnsupported, LocalDeskProvider, type DeskProvider } from "@rd/sandbox";
import type { Env } from "./env.ts";
import { log } from "./log.ts";
import { onPath } from "./on-path.ts";

/** The agent's CLI in this checkout: the dashboard runs from the repository's root. */
const agentCli = path.resolve("apps/agent/src/cli.ts");

/** What this machine lacks to run desks, in words; null when it has it all. */
async function missing(): Promise<string | null> {
  if (process.platform !== "linux") return "desks run on Linux only";
  const lacking = [];
  for (const [command, pkg] of [
    ["bwrap", "bubblewrap"],
    ["Xvfb", "xvfb"],
    ["ffmpeg", "ffmpeg"],
  ] as const) {
    if (!(await onPath(command))) lacking.push(pkg);
  }
  if (lacking.length > 0)
    return `this server lacks ${lacking.join(", ")}: sudo apt-get install -y ${lacking.join(" ")}`;
  try {
    await access(agentCli);
  } catch {
    return `${agentCli} is missing (start the dashboard from the repository's root)`;
  }
  return null;
}

/** Refuses every desk with the reason this machine cannot run them. */
class UnavailableProvider implements DeskProvider {
  readonly kind = "local";
  readonly #why: string;
  constructor(why: string) {
    this.#why = why;
  }
  async start(): Promise<never> {
    throw new DeskProviderUnsupported(this.#why);
  }
  async stop() {}
  async reap() {
    return [];
  }
}

export async function startDeskHosting(env: Env, database: DbHandle): Promise<DeskHost> {
  const dataDir = path.resolve(env.DATA_DIR);
  const key = createHash("sha256").update(dataDir).digest("hex").slice(0, 12);
  const why = await missing();
  if (why) log.warn(`[remote-desk] interview desks: ${why}; desks will fail until it is fixed`);
  const provider = why
    ? new UnavailableProvider(why)
    : new LocalDeskProvider({
        baseDir: path.join(tmpdir(), `rd-desks-${key}`),
        forbiddenPaths: [dataDir],
        log: log.child({ module: "desks" }),
      });
  const host = new DeskHost({
    handle: database,
    provider,
    agentCli,
    stateDir: path.join(dataDir, "desks"),
    serverUrl: `http://127.0.0.1:${env.PORT}`,
    signalUrl: env.SIGNAL_PUBLIC_URL ?? `ws://127.0.0.1:${env.SIGNAL_PORT}/ws`,
    pool: parseDeskPool(env.RD_DESK_POOL),
    agentEnv: { RD_AGENT_LOG_LEVEL: process.env.RD_AGENT_LOG_LEVEL ?? "warn" },
    log: log.child({ module: "desks" }),
  });
  await host.start();
  return host;
}
