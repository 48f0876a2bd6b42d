/**
 * Starts a product instance of its own for a browser test, the way a person does: `npm start` (or,
 * for fault tests that must kill the dashboard's process itself, its server entry with the same
 * environment `npm start` gives it), on its own ports and an empty data directory. The shared
 * Playwright server (playwright.config.ts) leaves the demo agent out; these instances keep it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

const root = path.resolve(import.meta.dirname, "..");

export interface Product {
  baseURL: string;
  port: number;
  dataDir: string;
  /** Everything the product printed, for a failed test's attachment. */
  logs: string[];
  /** The top process (`npm start`, or the server entry). */
  child: ChildProcess;
  /** Stops the whole instance (Ctrl+C), then removes its data directory unless `keepData`. */
  stop(options?: { keepData?: boolean }): Promise<void>;
}

export interface ProductOptions {
  port: number;
  /** Reuse a data directory (a restart); a fresh one by default. */
  dataDir?: string;
  env?: Record<string, string>;
  /** "npm-start" (default) runs `npm start`; "server" runs apps/web/serve.ts as start.ts does. */
  entry?: "npm-start" | "server";
}

/** Environment variables of the test runner that would change the product's defaults. */
const SCRUBBED = /^(PORT|SIGNAL_PORT|DATA_DIR|DATABASE_URL|REDIS_URL|RD_[A-Z_]+|LOG_LEVEL|E2E_[A-Z_]+)$/;

export async function startProduct(options: ProductOptions): Promise<Product> {
  const dataDir = options.dataDir ?? mkdtempSync(path.join(tmpdir(), "rd-product-"));
  const baseEnv = Object.fromEntries(Object.entries(process.env).filter(([key]) => !SCRUBBED.test(key)));
  const env = {
    ...baseEnv,
    PORT: String(options.port),
    SIGNAL_PORT: String(options.port + 1),
    DATA_DIR: dataDir,
    LOG_LEVEL: "warn",
    ...(options.entry === "server"
      ? { HOST: "127.0.0.1", BODY_SIZE_LIMIT: "1M", RD_DEMO_AGENT: "true", RD_DESK_POOL: "interview:1" }
      : {}),
    ...options.env,
  };
  const [command, args] =
    options.entry === "server"
      ? [process.execPath, [path.join(root, "apps/web/serve.ts")]]
      : ["npm", ["start", "--silent"]];
  // Something already answering here (a product an earlier test left running) would pass the
  // health check below in this one's place, and the test would drive the wrong product.
  const baseURL = `http://127.0.0.1:${options.port}`;
  if (await answers(baseURL))
    throw new Error(`port ${options.port} is taken: something answers on ${baseURL}`);
  // A process group of its own, so stop() reaches npm, the server and whatever they started.
  const child = spawn(command, args, { cwd: root, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  const logs: string[] = [];
  for (const stream of [child.stdout!, child.stderr!]) {
    stream.setEncoding("utf8");
    stream.on("data", (text: string) => logs.push(...text.split("\n").filter(Boolean)));
  }
  const deadline = Date.now() + 180_000; // a first `npm start` may build the dashboard
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`the product exited (${child.exitCode}):\n${logs.join("\n")}`);
    if (await answers(baseURL)) break;
    if (Date.now() > deadline) throw new Error(`no answer on ${baseURL}:\n${logs.join("\n")}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    baseURL,
    port: options.port,
    dataDir,
    logs,
    child,
    async stop({ keepData = false } = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        signalGroup(child, "SIGINT");
        const force = setTimeout(() => signalGroup(child, "SIGKILL"), 10_000);
        await exited;
        clearTimeout(force);
      }
      // The demo agent's desktop is a group of its own; the server stops it, give it its moment.
      await new Promise((r) => setTimeout(r, 2500));
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Whether a product's health check answers at `baseURL`; false while nothing listens there. */
async function answers(baseURL: string) {
  try {
    return (await fetch(`${baseURL}/healthz`)).ok;
  } catch {
    return false;
  }
}

export function signalGroup(child: ChildProcess, signal: NodeJS.Signals) {
  try {
    process.kill(-child.pid!, signal);
  } catch {
    // already gone
  }
}
