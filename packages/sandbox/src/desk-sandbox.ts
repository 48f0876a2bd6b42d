/**
 * An interview desk's sandbox on one machine: its X server (Xvfb) and programs in bubblewrap
 * namespaces (user, PID, IPC, UTS, cgroup, network: loopback only), under a cgroup with memory, CPU
 * and process limits, seeing /usr and a few /etc entries read-only and nothing else of the host.
 * Trusted clients outside (the desk agent's capture and input) reach its display with its cookie.
 *
 * Start-up, in order: the desk directory and cookie, the cgroup, then bubblewrap through a wrapper
 * that joins the cgroup first; inside, desk-init.ts starts Xvfb and reports ready; the socket
 * directory is locked; the go-ahead starts the programs. Nothing blocks: every step is async.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Logger } from "@rd/log";
import { DEFAULT_DESK_PROGRAMS } from "@rd/protocol";
import { bwrapArgs, INSIDE, probeHostRoot, resolveForbidden } from "./bwrap-args.ts";
import {
  type CgroupCounters,
  createDeskCgroup,
  type DeskCgroup,
  procsFiles,
  readCgroupCounters,
  removeDeskCgroup,
} from "./cgroup.ts";
import {
  createDeskDir,
  deskPaths,
  ensureBaseDir,
  lockSocketDir,
  removeDeskDir,
  writeDeskState,
} from "./desk-dir.ts";
import { deskInitScript, INIT_EXIT, XVFB_SCREEN_FILE } from "./desk-init.ts";
import { freeDisplayNumber } from "./display-number.ts";
import { deskHostUser } from "./host-user.ts";
import { type Command, inCgroups, insideCommand, outsideCommand, SYSTEM_PATH } from "./namespace-commands.ts";
import { processStartTime } from "./process-identity.ts";
import { writeXCookie } from "./x-cookie.ts";

export interface DeskLimits {
  /** Memory of everything in the desk, its home and /tmp (tmpfs) included. */
  memoryBytes: number;
  /** CPU time in CPUs (1 = one core). */
  cpuQuota: number;
  /** Share under contention, cgroup v2 scale (100 = as much as anyone). */
  cpuWeight: number;
  /** Processes and threads at once. */
  maxProcesses: number;
  /** Size of each of the desk's writable filesystems (home, /tmp), which also count as its memory. */
  scratchBytes: number;
}

/**
 * Defaults, the same as a desk template's (packages/protocol desk-template.ts): Xvfb at 1366x768
 * takes ~40 MiB and a shell session a few more, so 1 GiB leaves room for a compiler or a language
 * server; one core keeps two desks of a 2-core machine from starving the server; 256 processes are
 * far beyond a desktop's ~20 and far below what hurts the host. Home and /tmp get 256 MiB each.
 */
export const DEFAULT_LIMITS: DeskLimits = {
  memoryBytes: 1024 * 1024 * 1024,
  cpuQuota: 1,
  cpuWeight: 100,
  maxProcesses: 256,
  scratchBytes: 256 * 1024 * 1024,
};

const MIB = 1024 * 1024;
/**
 * What a limit may be: below these minimums a desk cannot run Xvfb (~40 MiB, a dozen processes), or
 * the kernel refuses the value (a CPU quota under 1 ms per 100 ms period).
 */
const LIMIT_RANGES: Record<keyof DeskLimits, [number, number]> = {
  memoryBytes: [64 * MIB, 2 ** 50],
  cpuQuota: [0.01, 1024],
  cpuWeight: [1, 10_000],
  maxProcesses: [16, 4_194_304],
  scratchBytes: [MIB, 2 ** 50],
};

/** A window manager, a terminal and an editor: the built-in template's, not a copy of it. */
export const DEFAULT_PROGRAMS = DEFAULT_DESK_PROGRAMS;

export interface DeskSandboxOptions {
  /** The desk's id: lowercase letters, digits and dashes (it names directories and cgroups). */
  id: string;
  /** WIDTHxHEIGHT, default 1366x768. */
  resolution?: string;
  /** The programs started on the display once it is up; default DEFAULT_PROGRAMS. */
  programs?: readonly (readonly string[])[];
  limits?: Partial<DeskLimits>;
  /** Network egress. Only "none" for now: a network namespace of its own with loopback alone. */
  network?: "none";
  /** Where per-desk directories go; default `<tmpdir>/rd-desks`. */
  baseDir?: string;
  /** Host paths the desk must never see (the dashboard's DATA_DIR…); checked against what is bound. */
  forbiddenPaths?: readonly string[];
  log: Logger;
}

export interface DeskSandbox {
  id: string;
  /** The X display, e.g. ":1000": inside the desk, and for the commands of outside(). */
  display: string;
  width: number;
  height: number;
  /** Host path of the Xauthority file holding the display's cookie. */
  xauthority: string;
  /** Host directory holding the X socket (what outside() binds onto /tmp/.X11-unix). */
  socketDir: string;
  /** Host pid of the sandbox's init (PID 1 inside): its namespaces are the desk's. */
  pid: number;
  /** The desk's cgroup, or undefined when it runs without limits (no writable hierarchy). */
  cgroup: DeskCgroup | undefined;
  /** A trusted program outside the desk that uses its display (`DISPLAY` and `XAUTHORITY` set). */
  outside(argv: readonly string[]): Command;
  /** A program inside the desk: its namespaces, cgroup and user, its environment only. */
  inside(argv: readonly string[]): Command;
  /** What the limits have done so far; undefined without a cgroup. */
  counters(): Promise<CgroupCounters | undefined>;
  /** Settles when the sandbox has ended, by stop() or by itself (its X server died). */
  exited: Promise<void>;
  /** Kills everything in the desk, removes its cgroup and its directory; safe to call again. */
  stop(): Promise<void>;
}

/** The default parent of per-desk directories. */
export function defaultBaseDir(): string {
  return path.join(tmpdir(), "rd-desks");
}

/** Xvfb starts in ~0.2 s; the margin is for a loaded 2-core machine. */
const START_TIMEOUT_MS = 15_000;
/** How long bwrap may take to notice its init died and exit before it is killed too. */
const STOP_GRACE_MS = 2_000;
/** bwrap's info fd and the init script's ready fd, as spawned below. */
const READY_FD = 3;
const INFO_FD = 4;
/** Keep only the end of the sandbox's diagnostics: Xvfb's xkbcomp warnings are long. */
const STDERR_TAIL = 4_000;

export function parseResolution(text: string): { width: number; height: number } {
  const match = /^(\d{3,5})x(\d{3,5})$/.exec(text);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 320 || height < 240 || width > 7680 || height > 4320) {
    throw new RangeError(
      `resolution is WIDTHxHEIGHT between 320x240 and 7680x4320, like 1366x768 (got "${text}")`,
    );
  }
  return { width, height };
}

function checkOptions(options: DeskSandboxOptions): DeskLimits {
  if (!/^[a-z0-9](?:[a-z0-9-]{0,62})$/.test(options.id)) {
    throw new RangeError(
      `desk id is 1–63 of [a-z0-9-], starting with a letter or digit (got "${options.id}")`,
    );
  }
  if ((options.network ?? "none") !== "none") throw new RangeError('desk network: only "none" is supported');
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  for (const [key, value] of Object.entries(limits)) {
    const [min, max] = LIMIT_RANGES[key as keyof DeskLimits];
    if (!(Number.isFinite(value) && value >= min && value <= max)) {
      throw new RangeError(`desk limit ${key} must be between ${min} and ${max} (got ${value})`);
    }
  }
  return limits;
}

/** The desk's environment, inside the sandbox and for programs run in it. */
function deskEnv(displayNumber: number): Record<string, string> {
  return {
    HOME: INSIDE.home,
    USER: "desk",
    LOGNAME: "desk",
    SHELL: "/bin/bash",
    PATH: "/usr/local/bin:/usr/bin:/bin",
    LANG: "C.UTF-8",
    DISPLAY: `:${displayNumber}`,
    XAUTHORITY: INSIDE.xauthority,
  };
}

/** What the sandbox reports while it starts: its init's pid, then the X display number. */
function awaitStart(child: ChildProcess, stderrTail: () => string): Promise<{ pid: number }> {
  return new Promise((resolve, reject) => {
    let info = "";
    let pid: number | undefined;
    let ready = false;
    const settle = () => {
      if (pid === undefined || !ready) return;
      clearTimeout(timer);
      resolve({ pid });
    };
    const fail = (message: string) => {
      clearTimeout(timer);
      reject(new Error(`${message}${stderrTail() ? `: ${stderrTail()}` : ""}`));
    };
    const timer = setTimeout(
      () => fail(`desk sandbox did not start within ${START_TIMEOUT_MS} ms`),
      START_TIMEOUT_MS,
    );
    child.stdio[INFO_FD]?.on("data", (chunk: Buffer) => {
      info += chunk.toString();
      try {
        const childPid = (JSON.parse(info) as { "child-pid"?: unknown })["child-pid"];
        if (typeof childPid === "number") pid = childPid;
        settle();
      } catch {
        // Not all of the JSON yet.
      }
    });
    child.stdio[READY_FD]?.once("data", () => {
      ready = true;
      settle();
    });
    child.once("error", (error) => fail(`cannot start the desk sandbox: ${error.message}`));
    child.once("exit", (code, signal) => {
      if (code === 127) fail("bubblewrap is missing (apt-get install -y bubblewrap)");
      else if (code === INIT_EXIT.xServer) fail("the desk's X server did not start");
      else fail(`desk sandbox exited during start-up (${signal ?? `code ${code}`})`);
    });
  });
}

/** Starts desk `options.id`'s sandbox and resolves once its X server accepts connections. */
export async function startDeskSandbox(options: DeskSandboxOptions): Promise<DeskSandbox> {
  const started = performance.now();
  const limits = checkOptions(options);
  const { width, height } = parseResolution(options.resolution ?? "1366x768");
  const { id } = options;
  const log = options.log.child({ module: "desk-sandbox", desk: id });
  const baseDir = path.resolve(options.baseDir ?? defaultBaseDir());
  const user = deskHostUser(id);
  const asRoot = user !== undefined;
  const paths = deskPaths(baseDir, id);

  const [hostRoot, forbidden, displayNumber] = await Promise.all([
    probeHostRoot(),
    resolveForbidden(options.forbiddenPaths ?? []),
    freeDisplayNumber(),
    ensureBaseDir(baseDir, user),
  ]);
  const env = deskEnv(displayNumber);
  const script = deskInitScript({
    displayNumber,
    width,
    height,
    xauthority: INSIDE.xauthority,
    framebufferDir: INSIDE.framebufferDir,
    programs: options.programs ?? DEFAULT_PROGRAMS,
  });
  const args = bwrapArgs({
    hostRoot,
    forbidden,
    x11Dir: paths.x11,
    xauthority: paths.xauthority,
    etcDir: paths.etc,
    scratchBytes: limits.scratchBytes,
    env,
    infoFd: INFO_FD,
    command: ["bash", "-c", script],
  });

  await createDeskDir(paths, user);
  let cgroup: DeskCgroup | undefined;
  let child: ChildProcess | undefined;
  let stderr = "";
  // Everything below is undone by stop(), which a failed start calls too.
  let stopping: Promise<void> | undefined;
  let initPid: number | undefined;
  const stop = () =>
    (stopping ??= (async () => {
      // The init's pid is only its own while bwrap (its parent) has not reaped it.
      if (child && child.exitCode === null && child.signalCode === null) {
        // SIGKILL to PID 1 of the namespace kills every process in it; bwrap then reaps it and
        // exits. Killing bwrap itself too would leave the init a zombie for someone else to reap.
        try {
          if (initPid !== undefined) process.kill(initPid, "SIGKILL");
          else child.kill("SIGKILL");
        } catch {
          // Gone between the check and the kill.
        }
        const force = setTimeout(() => child?.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(force);
      }
      if (cgroup) await removeDeskCgroup(cgroup);
      await removeDeskDir(paths);
      log.info({}, "desk sandbox stopped");
    })());
  let markExited = () => {};
  const exited = new Promise<void>((resolve) => (markExited = resolve));

  try {
    await writeXCookie(paths.xauthority, displayNumber, user);
    // State first, cgroup second: a crash in between leaves nothing reap cannot find.
    await writeDeskState(paths, { id });
    cgroup = await createDeskCgroup(id, limits, log);
    if (cgroup) await writeDeskState(paths, { id, cgroup });
    else log.warn({}, "no writable cgroup hierarchy: the desk runs without memory, CPU or process limits");

    const bwrap = ["bwrap", ...args];
    // As root, drop to the desk's host user before bubblewrap, after joining the cgroup (root's job).
    const unprivileged = user
      ? ["setpriv", `--reuid=${user.uid}`, `--regid=${user.gid}`, "--clear-groups", "--", ...bwrap]
      : bwrap;
    const [file = "", ...rest] = inCgroups(cgroup ? procsFiles(cgroup) : [], unprivileged);
    child = spawn(file, rest, {
      // 0: the go-ahead; 2: diagnostics; 3: ready (display number); 4: bwrap's info JSON.
      stdio: ["pipe", "ignore", "pipe", "pipe", "pipe"],
      env: { PATH: SYSTEM_PATH },
    });
    child.once("exit", () => markExited());
    child.once("error", () => markExited());
    // A pipe's error (EPIPE on the go-ahead when the desk died) would otherwise crash the server;
    // the exit that comes with it is what counts.
    for (const stream of child.stdio) stream?.on("error", () => {});
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr = (stderr + chunk.toString()).slice(-STDERR_TAIL);
    });
    ({ pid: initPid } = await awaitStart(child, () => stderr.trim()));
    // Nothing more is read from the ready pipe: whatever the desk writes there is dropped.
    child.stdio[READY_FD]?.destroy();
    await lockSocketDir(paths);
    child.stdin?.end("go\n");
    await writeDeskState(paths, { id, cgroup, pid: initPid, pidStart: await processStartTime(initPid) });
  } catch (error) {
    await stop().catch((stopError: unknown) =>
      log.error({ error: stopError }, "cannot clean up a failed desk start"),
    );
    throw error;
  }

  const pid = initPid;
  const running = child;
  running.once("exit", (code, signal) => {
    if (!stopping) log.warn({ code, signal, stderr: stderr.trim() }, "desk sandbox ended by itself");
  });
  log.info(
    {
      display: `:${displayNumber}`,
      pid,
      cgroup: cgroup?.version ?? null,
      ms: Math.round(performance.now() - started),
    },
    "desk sandbox started",
  );
  const procs = cgroup ? procsFiles(cgroup) : [];
  const selfUid = process.getuid?.() ?? 0;
  const selfGid = process.getgid?.() ?? 0;
  return {
    id,
    display: `:${displayNumber}`,
    width,
    height,
    xauthority: paths.xauthority,
    socketDir: paths.x11,
    pid,
    cgroup,
    outside: (argv) =>
      outsideCommand(
        {
          socketDir: paths.x11,
          displayNumber,
          xauthority: paths.xauthority,
          // The desk's /tmp as this host sees it, through its init's root.
          framebuffer: `/proc/${pid}/root${INSIDE.framebufferDir}/${XVFB_SCREEN_FILE}`,
          asRoot,
          uid: selfUid,
          gid: selfGid,
        },
        argv,
      ),
    inside: (argv) => insideCommand({ pid, procsFiles: procs, env, asRoot }, argv),
    counters: async () => (cgroup ? readCgroupCounters(cgroup) : undefined),
    exited,
    stop,
  };
}
