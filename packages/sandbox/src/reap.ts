/**
 * Cleans up after a server that died without stopping its desks. Its desks' processes died with it
 * (bubblewrap's --die-with-parent) unless something went wrong; their directories and cgroups stay
 * on disk. Every desk directory holds desk.json, written before its cgroup was made, so nothing the
 * crash left is unaccounted for.
 */
import type { Logger } from "@rd/log";
import { readdir } from "node:fs/promises";
import { removeDeskCgroup } from "./cgroup.ts";
import { deskPaths, readDeskState, removeDeskDir } from "./desk-dir.ts";
import { killIfSame } from "./process-identity.ts";

/**
 * Removes every desk under `baseDir`: kills its init if still running (the same process, not a
 * reused pid), kills whatever is left in its cgroup and removes the group, deletes its directory.
 * Call it once at start-up, before the first desk starts: it does not spare running desks.
 * Resolves with the ids of the desks it removed.
 */
export async function reapDeskSandboxes(baseDir: string, log: Logger): Promise<string[]> {
  const names = await readdir(baseDir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return [];
    throw error;
  });
  const reaped: string[] = [];
  for (const name of names) {
    const paths = deskPaths(baseDir, name);
    const state = await readDeskState(paths);
    try {
      const killed = state?.pid && state.pidStart ? await killIfSame(state.pid, state.pidStart) : false;
      if (state?.cgroup) await removeDeskCgroup(state.cgroup);
      await removeDeskDir(paths);
      reaped.push(name);
      log.warn(
        { desk: name, killedInit: killed, cgroup: state?.cgroup?.version ?? null },
        "reaped a desk left behind",
      );
    } catch (error) {
      log.error({ desk: name, error }, "cannot reap a desk left behind");
    }
  }
  return reaped;
}
