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
 * dependencies by name, and Node finds them by walking up to the checkout's node_modules. A copy
 * is removed when its process exits; one left by a killed process is removed by the next start.
 */
import { cp, mkdir, readdir, rm } from "node:fs/promises";
import { rmSync } from "node:fs";
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

/** Copies `buildDir` to `snapshots/<pid>`, after removing the copies of processes that are gone. */
export async function snapshotBuild(
  buildDir: string,
  snapshots: string,
  pid = process.pid,
  alive: (pid: number) => boolean = isAlive,
): Promise<BuildSnapshot> {
  await removeOrphans(snapshots, alive);
  const dir = path.join(snapshots, String(pid));
  await rm(dir, { recursive: true, force: true });
  await mkdir(snapshots, { recursive: true });
  await cp(buildDir, dir, { recursive: true });
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

async function removeOrphans(snapshots: string, alive: (pid: number) => boolean) {
  const entries = await readdir(snapshots).catch(() => [] as string[]);
  await Promise.all(
    entries
      .filter((name) => /^\d+$/.test(name) && !alive(Number(name)))
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
