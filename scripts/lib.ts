/** Small helpers shared by the start and test scripts: spawning, waiting, freshness checks. */
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";

export const root = path.resolve(import.meta.dirname, "..");

export const say = (message: string) => process.stderr.write(`\x1b[1m[remote-desk]\x1b[0m ${message}\n`);

/** Runs a command to completion; resolves with its exit code. */
export function run(command: string, args: string[], options: SpawnOptions = {}): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd: root, stdio: "inherit", ...options });
    child.on("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.on("error", () => resolve(127));
  });
}

/** Newest modification time of any file below the given paths (skipping node_modules). */
export function newestMtime(paths: string[]): number {
  let newest = 0;
  const visit = (p: string) => {
    if (!existsSync(p)) return;
    const stat = statSync(p);
    if (stat.isDirectory()) {
      for (const entry of readdirSync(p)) if (entry !== "node_modules") visit(path.join(p, entry));
    } else newest = Math.max(newest, stat.mtimeMs);
  };
  paths.forEach((p) => visit(path.resolve(root, p)));
  return newest;
}

/** Whether the dashboard build is missing or older than its sources. */
export function buildIsStale(): boolean {
  const built = path.join(root, "build/handler.js");
  if (!existsSync(built)) return true;
  // The signaling worker runs inside the dashboard's server, so its sources are the build's too.
  const sources = newestMtime([
    "apps/web",
    "apps/signal",
    "packages",
    "svelte.config.js",
    "vite.config.ts",
    "package-lock.json",
  ]);
  return sources > statSync(built).mtimeMs;
}

/** Polls a URL until it answers 200, the child dies, or the time runs out. */
export async function waitForHttp(url: string, child: ChildProcess, timeoutMs = 60_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && child.exitCode === null) {
    try {
      if ((await fetch(url)).ok) return true;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return false;
}
