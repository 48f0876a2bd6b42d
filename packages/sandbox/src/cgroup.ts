/**
 * One cgroup per desk, holding the desk's memory, CPU and process-count limits: cgroup v2 when its
 * memory, cpu and pids controllers can be delegated, else v1 (one group in each of the memory, cpu
 * and pids hierarchies), else none (the caller runs the desk without limits and says so).
 *
 * Desk groups go in `rd-desks/<id>` under the server's own cgroup when it can be written, so that
 * whatever limits the server itself runs under also cover its desks; else under the hierarchy's root.
 * Processes join a group by writing their own pid to its `cgroup.procs` before they exec (see
 * namespace-commands.ts), so that nothing they fork can start outside it.
 */
import { access, mkdir, readFile, rmdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@rd/log";

export interface CgroupLimits {
  /** Memory, page cache and tmpfs included, in bytes; swap is not allowed on top of it. */
  memoryBytes: number;
  /** CPU time per wall-clock time, in CPUs: 1 = one full core, 0.5 = half of one. */
  cpuQuota: number;
  /** Share of contended CPU relative to other groups, cgroup v2's cpu.weight scale (1–10000, 100 = default). */
  cpuWeight: number;
  /** Processes and threads at once. */
  maxProcesses: number;
}

export type Controller = "memory" | "cpu" | "pids";
const CONTROLLERS: readonly Controller[] = ["memory", "cpu", "pids"];

/** A desk's cgroup; serializable, so that a crash's leftovers can be found and removed. */
export interface DeskCgroup {
  version: 1 | 2;
  /** The group's directory in each controller's hierarchy (all three the same on v2). */
  dirs: Record<Controller, string>;
}

/** What the limits did: for the desk's owner (a warning to show) and for tests. */
export interface CgroupCounters {
  processes: number;
  /** Forks refused at the process limit. */
  forksRefused: number;
  /** Processes the kernel killed at the memory limit. */
  oomKills: number;
}

/** The directory under a parent cgroup that holds every desk's group. */
export const DESKS_GROUP = "rd-desks";
/** cgroup v1 CFS period: the kernel's default, 100 ms. */
const CFS_PERIOD_US = 100_000;
/** How long a group may take to empty once its processes are killed. */
const EMPTY_TIMEOUT_MS = 5_000;

interface Hierarchy {
  /** Where the hierarchy is mounted, e.g. /sys/fs/cgroup/memory. */
  mount: string;
  /** This process's group in it, e.g. /process_api/3f2c (relative to the mount). */
  own: string;
}

interface Hierarchies {
  v2?: Hierarchy;
  v1: Partial<Record<Controller, Hierarchy>>;
}

/** cgroup mounts from /proc/self/mountinfo: fstype cgroup2, or cgroup with its controllers. */
export function parseCgroupMounts(mountinfo: string): {
  v2?: string;
  v1: Partial<Record<Controller, string>>;
} {
  const result: { v2?: string; v1: Partial<Record<Controller, string>> } = { v1: {} };
  for (const line of mountinfo.split("\n")) {
    // "36 25 0:31 / /sys/fs/cgroup/memory rw,relatime shared:14 - cgroup cgroup rw,memory"
    const [mountPart, fsPart] = line.split(" - ");
    const mountPoint = mountPart?.split(" ")[4];
    const [fstype, , superOptions = ""] = fsPart?.split(" ") ?? [];
    if (!mountPoint) continue;
    // Mount points escape spaces and the like as octal (\040).
    const mount = mountPoint.replace(/\\([0-7]{3})/g, (_, octal: string) =>
      String.fromCharCode(parseInt(octal, 8)),
    );
    if (fstype === "cgroup2") result.v2 ??= mount;
    if (fstype === "cgroup") {
      const options = superOptions.split(",");
      for (const controller of CONTROLLERS) {
        if (options.includes(controller)) result.v1[controller] ??= mount;
      }
    }
  }
  return result;
}

/** This process's group in each hierarchy, from /proc/self/cgroup ("4:memory:/a/b", "0::/a/b"). */
export function parseOwnCgroups(procCgroup: string): {
  v2?: string;
  v1: Partial<Record<Controller, string>>;
} {
  const result: { v2?: string; v1: Partial<Record<Controller, string>> } = { v1: {} };
  for (const line of procCgroup.split("\n")) {
    const match = /^(\d+):([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, hierarchyId, controllers = "", group = "/"] = match;
    if (hierarchyId === "0" && controllers === "") result.v2 = group;
    for (const controller of controllers.split(",")) {
      if ((CONTROLLERS as readonly string[]).includes(controller))
        result.v1[controller as Controller] = group;
    }
  }
  return result;
}

async function hierarchies(): Promise<Hierarchies> {
  const [mountinfo, procCgroup] = await Promise.all([
    readFile("/proc/self/mountinfo", "utf8"),
    readFile("/proc/self/cgroup", "utf8"),
  ]);
  const mounts = parseCgroupMounts(mountinfo);
  const own = parseOwnCgroups(procCgroup);
  const found: Hierarchies = { v1: {} };
  if (mounts.v2 && own.v2 !== undefined) found.v2 = { mount: mounts.v2, own: own.v2 };
  for (const controller of CONTROLLERS) {
    const mount = mounts.v1[controller];
    if (mount) found.v1[controller] = { mount, own: own.v1[controller] ?? "/" };
  }
  return found;
}

/** Where desk groups may go in a hierarchy: under the server's own group, else under the root. */
function parentCandidates(hierarchy: Hierarchy): string[] {
  const own = path.join(hierarchy.mount, hierarchy.own);
  return own === hierarchy.mount ? [own] : [own, hierarchy.mount];
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}

/** Writes a value to a cgroup file; the kernel checks it and says EINVAL when it is out of range. */
async function set(dir: string, file: string, value: string | number): Promise<void> {
  await writeFile(path.join(dir, file), String(value));
}

/**
 * A limit the kernel refused (EINVAL, ERANGE): a bad value, not a hierarchy we may not write. It
 * fails the desk's start instead of sending it on to the next hierarchy, or to none at all, where a
 * typo in a template would quietly become a desk without limits.
 */
export class LimitRefused extends Error {}

async function setLimit(dir: string, file: string, value: string | number): Promise<void> {
  try {
    await set(dir, file, value);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EINVAL" || code === "ERANGE") {
      throw new LimitRefused(`the kernel refused ${file} = ${value} for ${dir}`, { cause: error });
    }
    throw error;
  }
}

async function setV2Limits(dir: string, limits: CgroupLimits) {
  await setLimit(dir, "memory.max", limits.memoryBytes);
  // Without this a desk at its limit would push its memory to swap and keep going.
  if (await exists(path.join(dir, "memory.swap.max"))) await setLimit(dir, "memory.swap.max", 0);
  await setLimit(dir, "cpu.max", `${Math.round(limits.cpuQuota * CFS_PERIOD_US)} ${CFS_PERIOD_US}`);
  await setLimit(dir, "cpu.weight", limits.cpuWeight);
  await setLimit(dir, "pids.max", limits.maxProcesses);
}

/**
 * Makes `<parent>/rd-desks/<id>`. The `rd-desks` level is shared by every desk and removed with
 * the last of them, so another desk's stop may remove it between the two mkdirs: then try again.
 */
async function makeGroupDir(parent: string, id: string): Promise<string> {
  const dir = path.join(parent, DESKS_GROUP, id);
  for (let attempt = 0; ; attempt++) {
    await mkdir(path.dirname(dir), { recursive: true });
    try {
      await mkdir(dir);
      return dir;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT" || attempt >= 3) throw error;
    }
  }
}

/** Enables the desk controllers for the children of `dir`. */
async function enableControllers(dir: string) {
  const enabled = (await readFile(path.join(dir, "cgroup.subtree_control"), "utf8")).split(/\s+/);
  const toEnable = CONTROLLERS.filter((c) => !enabled.includes(c));
  // EBUSY here: `dir` holds processes and is not the root (v2's no-internal-processes rule).
  if (toEnable.length > 0) await set(dir, "cgroup.subtree_control", toEnable.map((c) => `+${c}`).join(" "));
}

/** Makes desk `id`'s v2 group under `parent` with its limits; throws when it cannot. */
async function createV2Group(parent: string, id: string, limits: CgroupLimits): Promise<string> {
  const available = (await readFile(path.join(parent, "cgroup.controllers"), "utf8")).split(/\s+/);
  const missing = CONTROLLERS.filter((c) => !available.includes(c));
  if (missing.length > 0) throw new Error(`controllers ${missing.join(", ")} are not available in ${parent}`);
  // Checked before anything is created, so a parent that refuses is left as it was.
  await enableControllers(parent);
  const dir = await makeGroupDir(parent, id);
  try {
    await enableControllers(path.dirname(dir));
    await setV2Limits(dir, limits);
  } catch (error) {
    await removeGroupDir(dir);
    throw error;
  }
  return dir;
}

/** Removes a desk's (empty) group directory, and the shared `rd-desks` level when it was the last. */
async function removeGroupDir(dir: string): Promise<void> {
  await rmdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== "ENOENT") throw error;
  });
  // ENOTEMPTY/EBUSY: other desks still live there.
  await rmdir(path.dirname(dir)).catch(() => {});
}

async function setV1Limits(controller: Controller, dir: string, limits: CgroupLimits) {
  if (controller === "memory") {
    await setLimit(dir, "memory.limit_in_bytes", limits.memoryBytes);
    // memsw (memory + swap) exists only with swap accounting; equal to the limit = no swap on top.
    if (await exists(path.join(dir, "memory.memsw.limit_in_bytes"))) {
      await setLimit(dir, "memory.memsw.limit_in_bytes", limits.memoryBytes);
    }
  } else if (controller === "cpu") {
    await setLimit(dir, "cpu.cfs_period_us", CFS_PERIOD_US);
    await setLimit(dir, "cpu.cfs_quota_us", Math.round(limits.cpuQuota * CFS_PERIOD_US));
    // v1 shares default to 1024 where v2 weights default to 100.
    await setLimit(dir, "cpu.shares", Math.max(2, Math.round((limits.cpuWeight * 1024) / 100)));
  } else {
    await setLimit(dir, "pids.max", limits.maxProcesses);
  }
}

async function createV1Group(hierarchy: Hierarchy, controller: Controller, id: string, limits: CgroupLimits) {
  let lastError: unknown;
  for (const parent of parentCandidates(hierarchy)) {
    let dir: string;
    try {
      dir = await makeGroupDir(parent, id);
    } catch (error) {
      lastError = error;
      continue;
    }
    try {
      await setV1Limits(controller, dir, limits);
      return dir;
    } catch (error) {
      lastError = error;
      await removeGroupDir(dir).catch(() => {});
      if (error instanceof LimitRefused) throw error;
    }
  }
  throw lastError;
}

/**
 * Creates desk `id`'s cgroup with its limits: v2, else v1, else undefined (logged as a warning by
 * the caller, who knows what runs without limits). Throws LimitRefused for a value the kernel
 * refuses.
 */
export async function createDeskCgroup(
  id: string,
  limits: CgroupLimits,
  log: Logger,
): Promise<DeskCgroup | undefined> {
  const found = await hierarchies();
  const failures: string[] = [];
  if (found.v2) {
    for (const parent of parentCandidates(found.v2)) {
      try {
        const dir = await createV2Group(parent, id, limits);
        return { version: 2, dirs: { memory: dir, cpu: dir, pids: dir } };
      } catch (error) {
        if (error instanceof LimitRefused) throw error;
        failures.push(`v2 ${parent}: ${(error as Error).message}`);
      }
    }
  }
  const made: Partial<Record<Controller, string>> = {};
  try {
    for (const controller of CONTROLLERS) {
      const hierarchy = found.v1[controller];
      if (!hierarchy) throw new Error(`no cgroup v1 ${controller} hierarchy is mounted`);
      made[controller] = await createV1Group(hierarchy, controller, id, limits);
    }
    return { version: 1, dirs: made as Record<Controller, string> };
  } catch (error) {
    await Promise.all(Object.values(made).map((dir) => removeGroupDir(dir).catch(() => {})));
    if (error instanceof LimitRefused) throw error;
    failures.push(`v1: ${(error as Error).message}`);
  }
  log.debug({ desk: id, failures }, "no writable cgroup hierarchy");
  return undefined;
}

/** The files a process writes its pid to, to join the group (one per hierarchy). */
export function procsFiles(cgroup: DeskCgroup): string[] {
  return [...new Set(Object.values(cgroup.dirs))].map((dir) => path.join(dir, "cgroup.procs"));
}

async function pidsIn(cgroup: DeskCgroup): Promise<number[]> {
  const lists = await Promise.all(procsFiles(cgroup).map((file) => readFile(file, "utf8").catch(() => "")));
  return [...new Set(lists.join("\n").split("\n").filter(Boolean).map(Number))];
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Kills every process in the group and removes it (its directories in every hierarchy). Safe on a
 * group that is already gone. v2 kills the whole group at once (cgroup.kill); v1 kills what it
 * lists until nothing is left, which converges because the process limit caps what can be forked.
 */
export async function removeDeskCgroup(cgroup: DeskCgroup): Promise<void> {
  const deadline = Date.now() + EMPTY_TIMEOUT_MS;
  const dirs = [...new Set(Object.values(cgroup.dirs))];
  // Everything in the group gets killed: never anything but a desk's group (say, from a damaged
  // desk.json), such as a hierarchy's root.
  for (const dir of dirs) {
    if (path.basename(path.dirname(dir)) !== DESKS_GROUP) throw new Error(`${dir} is not a desk's cgroup`);
  }
  if (cgroup.version === 2) await set(dirs[0] ?? "", "cgroup.kill", 1).catch(() => {});
  for (;;) {
    const pids = await pidsIn(cgroup);
    if (pids.length === 0) break;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone already.
      }
    }
    if (Date.now() > deadline)
      throw new Error(`cgroup ${dirs.join(", ")} still holds processes ${pids.join(" ")}`);
    await sleep(20);
  }
  for (const dir of dirs) {
    // A killed process leaves its group a moment after it leaves cgroup.procs: EBUSY until then.
    for (;;) {
      try {
        await removeGroupDir(dir);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EBUSY" || Date.now() > deadline) throw error;
        await sleep(20);
      }
    }
  }
}

/** A `key value` line of a cgroup counters file (pids.events, memory.events, memory.oom_control). */
function counter(text: string, key: string): number {
  const match = new RegExp(`^${key} (\\d+)$`, "m").exec(text);
  return match ? Number(match[1]) : 0;
}

export async function readCgroupCounters(cgroup: DeskCgroup): Promise<CgroupCounters> {
  const read = (dir: string, file: string) => readFile(path.join(dir, file), "utf8").catch(() => "");
  const [processes, pidsEvents, memoryEvents] = await Promise.all([
    read(cgroup.dirs.pids, "pids.current"),
    read(cgroup.dirs.pids, "pids.events"),
    read(cgroup.dirs.memory, cgroup.version === 2 ? "memory.events" : "memory.oom_control"),
  ]);
  return {
    processes: Number(processes.trim()) || 0,
    forksRefused: counter(pidsEvents, "max"),
    oomKills: counter(memoryEvents, "oom_kill"),
  };
}
