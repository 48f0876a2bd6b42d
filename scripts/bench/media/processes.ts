/** Processes for the media benchmark: CPU time of a process tree, and stopping a child. */
import { type ChildProcess, spawnSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** Clock ticks per second: the unit of /proc/<pid>/stat's CPU times. */
export const TICKS_PER_SECOND =
  Number(spawnSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).stdout.trim()) || 100;

export interface ProcStat {
  pid: number;
  ppid: number;
  /** The command name (/proc/<pid>/stat field 2, without its parentheses). */
  comm: string;
  /** utime + stime, plus cutime + cstime: the process and its children that already exited. */
  ticks: number;
  /** cutime + cstime alone: its children that exited and were reaped. */
  reapedTicks: number;
}

export function readStat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; the fields after its closing parenthesis do not.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const field = (n: number) => Number(fields[n - 3]);
    const comm = text.slice(text.indexOf("(") + 1, text.lastIndexOf(")"));
    const reapedTicks = field(16) + field(17);
    return { pid, ppid: field(4), comm, ticks: field(14) + field(15) + reapedTicks, reapedTicks };
  } catch {
    return undefined; // exited meanwhile
  }
}

/** The ids of every process now. */
export const allPids = () =>
  readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number);

function processTree(pid: number): ProcStat[] {
  const all = allPids()
    .map(readStat)
    .filter((stat): stat is ProcStat => stat !== undefined);
  const children = new Map<number, ProcStat[]>();
  for (const stat of all) children.set(stat.ppid, [...(children.get(stat.ppid) ?? []), stat]);
  const tree: ProcStat[] = [];
  const visit = (stat: ProcStat | undefined) => {
    if (!stat) return;
    tree.push(stat);
    children.get(stat.pid)?.forEach(visit);
  };
  visit(all.find((stat) => stat.pid === pid));
  return tree;
}

/** How many processes below `pid` run `command` (the agent's ffmpeg encoders, say). */
export function countDescendants(pid: number, command: string): number {
  return processTree(pid).filter((stat) => stat.pid !== pid && stat.comm === command).length;
}

/**
 * CPU seconds used by `pid` and every process below it (the agent's ffmpeg encoders, clipboard
 * watchers), including descendants that already exited and were reaped.
 */
export function treeCpuSeconds(pid: number): number {
  return processTree(pid).reduce((sum, stat) => sum + stat.ticks, 0) / TICKS_PER_SECOND;
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves when the child has exited. */
export async function stopProcess(child: ChildProcess, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}
