/**
 * A process told apart from a later one with the same pid: its start time, field 22 of
 * /proc/PID/stat (clock ticks since boot). Lets reapDeskSandboxes kill a crashed desk's init without
 * risking an unrelated process that was handed the pid since.
 */
import { readFile } from "node:fs/promises";

/** The start time of `pid`, or undefined when no such process runs. */
export async function processStartTime(pid: number): Promise<string | undefined> {
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (stat === undefined) return undefined;
  // The command name (field 2) is in parentheses and may hold spaces and parentheses itself.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  // Fields after the name start at 3 ("state"), so field 22 is index 19.
  return fields[19];
}

/** Kills `pid` if it is still the process that started at `startTime`. */
export async function killIfSame(pid: number, startTime: string): Promise<boolean> {
  if ((await processStartTime(pid)) !== startTime) return false;
  try {
    process.kill(pid, "SIGKILL");
    return true;
  } catch {
    return false;
  }
}
