/**
 * The build a running dashboard serves, copied aside for that process alone.
 *
 * `npm test`, a second `npm start` after an edit, or a plain `vite build` replace `build/` while a
 * product may be serving from it: its next request for a script or style that was renamed found
 * no file, and the static file server (sirv, inside the build) has no error handler on its read
 * stream, so the whole process died (dashboard, signaling worker, demo agent, every live session).
 * Pages not loaded yet failed the same way, as SvelteKit imports a route's code on its first visit.
 * A copy of its own (14 MB, ~0.1 s at start) keeps a running product whole whatever is built next.
 *
 * The copies live in node_modules/.cache, inside the checkout: the build's server code imports its
 * dependencies by name, and Node finds them by walking up to the checkout's node_modules. Inside a
 * node_modules Node looks for no package.json above, so the copy gets one of its own saying its
 * files are ES modules. A copy is named by host and pid (a checkout may be shared by containers,
 * whose pids repeat) and removed when its process exits; one left by a killed process of this host
 * is removed by the next start here.
 */
import { cp, mkdir, readdir, realpath, rm, writeFile } from "node:fs/promises";
import { rmSync } from "node:fs";
import { hostname } from "node:os";
import path from "node:path";

export interface BuildSnapshot {
  /** The copy's directory: serve from here. */
  dir: string;
  /** Removes the copy (synchronous, for a process's `exit` handler). */
  remove(): void;
}

/** Where each process's copy goes, under `root` (the checkout). */
export function snapshotsDir(root: string): string {
  return path.join(root, "node_modules", ".cache", "rd-serve");
}

/** Copies `buildDir` to `snapshots/<host>-<pid>`, after removing this host's copies of processes that are gone. */
export async function snapshotBuild(
  buildDir: string,
  snapshots: string,
  { host = hostname(), pid = process.pid, alive = isAlive }: SnapshotOptions = {},
): Promise<BuildSnapshot> {
  const prefix = `${host.replaceAll(/[^A-Za-z0-9.-]/g, "_")}-`;
  await removeOrphans(snapshots, prefix, alive);
  const dir = path.join(snapshots, `${prefix}${pid}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(snapshots, { recursive: true });
  try {
    // The files themselves, should build/ be a link or hold links.
    await cp(await realpath(buildDir), dir, { recursive: true, dereference: true });
    await writeFile(path.join(dir, "package.json"), '{ "type": "module" }\n');
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface SnapshotOptions {
  /** This machine's name (os.hostname()). */
  host?: string;
  pid?: number;
  /** Whether a process of this host still runs. */
  alive?: (pid: number) => boolean;
}

async function removeOrphans(snapshots: string, prefix: string, alive: (pid: number) => boolean) {
  const entries = await readdir(snapshots).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => name.startsWith(prefix) && /^\d+$/.test(name.slice(prefix.length)))
      .filter((name) => !alive(Number(name.slice(prefix.length))))
      .map((name) => rm(path.join(snapshots, name), { recursive: true, force: true })),
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but is someone else's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}
