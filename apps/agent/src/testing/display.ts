/**
 * Real X11 displays for tests: a private Xvfb (optionally with fluxbox), a focused xterm running a
 * shell command, and the pointer's position and windows' geometry read back with xdotool. Everything started here is
 * killed by the matching `close()`, and on process exit as a last resort, so a failed test never
 * leaves an X server behind.
 */
import { spawn, execFile, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { randomUUID } from "node:crypto";

export interface TestDisplay {
  /** The X display name, e.g. ":50". */
  display: string;
  /** `process.env` with `DISPLAY` pointing at this display, for child processes. */
  env: NodeJS.ProcessEnv;
  width: number;
  height: number;
  /** Kills the window manager and the X server; safe to call twice. */
  close(): Promise<void>;
}

export interface DisplayOptions {
  width?: number;
  height?: number;
  /** Start fluxbox too, for tests that need focus and activation handled like on a desktop. */
  windowManager?: boolean;
}

export interface TestTerminal {
  /** The X window id of the xterm, as xdotool prints it. */
  windowId: string;
  close(): Promise<void>;
}

/** Display numbers well above the :0/:1 a developer's own session or CI's xvfb-run would take. */
const FIRST_DISPLAY = 50;
const LAST_DISPLAY = 250;
/** Xvfb starts in well under a second; the margin is for a loaded 2-core CI machine. */
const START_TIMEOUT_MS = 15_000;

/** Children still running, killed synchronously if the test process exits without closing them. */
const live = new Set<ChildProcess>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

/** Starts a private Xvfb on the first free display number from :50 up, and waits until it serves. */
export async function startDisplay(options: DisplayOptions = {}): Promise<TestDisplay> {
  const width = options.width ?? 1024;
  const height = options.height ?? 768;
  for (let n = FIRST_DISPLAY; n <= LAST_DISPLAY; n++) {
    if (existsSync(`/tmp/.X11-unix/X${n}`) || existsSync(`/tmp/.X${n}-lock`)) continue;
    const xvfb = await startXvfb(n, width, height);
    // Another process took the number between the probe and the spawn: try the next one.
    if (!xvfb) continue;
    const display = `:${n}`;
    const env = { ...process.env, DISPLAY: display };
    const children = [xvfb];
    if (options.windowManager) {
      try {
        children.unshift(await startWindowManager(env));
      } catch (error) {
        await stop(xvfb);
        throw error;
      }
    }
    let closed: Promise<void> | undefined;
    return {
      display,
      env,
      width,
      height,
      close: () => (closed ??= stopAll(children)),
    };
  }
  throw new Error(`no free X display between :${FIRST_DISPLAY} and :${LAST_DISPLAY}`);
}

/**
 * Opens an xterm on `display` running `shellCommand` under sh, waits until its window is visible and
 * gives it the keyboard focus, so typed input reaches the command.
 */
export async function startTerminal(
  display: string,
  shellCommand: string,
  options: { geometry?: string } = {},
): Promise<TestTerminal> {
  const env = { ...process.env, DISPLAY: display };
  // A unique instance name, so the search finds this xterm and not another test's.
  const name = `rdterm${randomUUID().slice(0, 8)}`;
  const geometry = options.geometry ?? "80x24+0+0";
  const xterm = spawn("xterm", ["-name", name, "-geometry", geometry, "-e", "sh", "-c", shellCommand], {
    env,
    stdio: "ignore",
  });
  track(xterm);
  try {
    const found = await xdotool(env, ["search", "--sync", "--onlyvisible", "--classname", name], 15_000);
    const windowId = found.split("\n")[0]?.trim();
    if (!windowId) throw new Error(`xterm ${name} has no window`);
    await xdotool(env, ["windowfocus", "--sync", windowId]);
    let closed: Promise<void> | undefined;
    return { windowId, close: () => (closed ??= stop(xterm)) };
  } catch (error) {
    await stop(xterm);
    throw error;
  }
}

/** A window's position and size on the screen, in pixels. */
export async function windowGeometry(
  display: string,
  windowId: string,
): Promise<{ x: number; y: number; width: number; height: number }> {
  const out = await xdotool({ ...process.env, DISPLAY: display }, ["getwindowgeometry", "--shell", windowId]);
  const read = (name: string) => {
    const value = new RegExp(`^${name}=(-?\\d+)$`, "m").exec(out)?.[1];
    if (value === undefined) throw new Error(`unexpected xdotool output: ${out}`);
    return Number(value);
  };
  return { x: read("X"), y: read("Y"), width: read("WIDTH"), height: read("HEIGHT") };
}

/** Where the X pointer is now, in screen pixels. */
export async function pointerLocation(display: string): Promise<{ x: number; y: number }> {
  const out = await xdotool({ ...process.env, DISPLAY: display }, ["getmouselocation", "--shell"]);
  const x = /^X=(\d+)$/m.exec(out)?.[1];
  const y = /^Y=(\d+)$/m.exec(out)?.[1];
  if (x === undefined || y === undefined) throw new Error(`unexpected xdotool output: ${out}`);
  return { x: Number(x), y: Number(y) };
}

/** Runs xdotool under `env` and resolves with its stdout. */
export function xdotool(env: NodeJS.ProcessEnv, args: string[], timeoutMs = 10_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile("xdotool", args, { env, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (error) reject(new Error(`xdotool ${args.join(" ")} failed: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

/**
 * Spawns Xvfb on display `n`; resolves with the process once it accepts connections, or undefined
 * when the number turned out to be taken. `-displayfd` makes Xvfb itself say when it is ready, so
 * there is no polling; `-noreset` keeps the server state (pointer position, keyboard) when the last
 * client disconnects, which happens between every xdotool call.
 */
function startXvfb(n: number, width: number, height: number): Promise<ChildProcess | undefined> {
  const xvfb = spawn(
    "Xvfb",
    [`:${n}`, "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset", "-displayfd", "3"],
    { stdio: ["ignore", "ignore", "pipe", "pipe"] },
  );
  track(xvfb);
  let stderr = "";
  xvfb.stderr?.on("data", (chunk: Buffer) => {
    // Keep only the tail: Xvfb prints xkbcomp warnings we never need in full.
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void stop(xvfb);
      reject(new Error(`Xvfb :${n} did not start within ${START_TIMEOUT_MS} ms: ${stderr}`));
    }, START_TIMEOUT_MS);
    xvfb.stdio[3]?.on("data", () => {
      clearTimeout(timer);
      resolve(xvfb);
    });
    xvfb.once("error", (error) => {
      clearTimeout(timer);
      live.delete(xvfb);
      reject(new Error(`cannot start Xvfb (install it: sudo apt-get install -y xvfb): ${error.message}`));
    });
    xvfb.once("exit", () => {
      clearTimeout(timer);
      if (/already active|listening sockets/i.test(stderr)) resolve(undefined);
      else reject(new Error(`Xvfb :${n} exited during startup: ${stderr}`));
    });
  });
}

/** Starts fluxbox and waits until it manages the screen (it sets _NET_SUPPORTING_WM_CHECK then). */
async function startWindowManager(env: NodeJS.ProcessEnv): Promise<ChildProcess> {
  const wm = spawn("fluxbox", [], { env, stdio: "ignore" });
  track(wm);
  const deadline = Date.now() + START_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (wm.exitCode !== null) throw new Error(`fluxbox exited with ${wm.exitCode}`);
    // A window manager's first act is to claim the root; xdotool can name the active desktop then.
    const ready = await xdotool(env, ["get_num_desktops"]).then(
      (out) => Number(out.trim()) > 0,
      () => false,
    );
    if (ready) return wm;
    await new Promise((r) => setTimeout(r, 100));
  }
  await stop(wm);
  throw new Error(`fluxbox did not start within ${START_TIMEOUT_MS} ms`);
}

function track(child: ChildProcess) {
  live.add(child);
  child.once("exit", () => live.delete(child));
}

async function stopAll(children: ChildProcess[]) {
  for (const child of children) await stop(child);
}

/** SIGTERM, then SIGKILL if the process has not exited within a second. */
function stop(child: ChildProcess): Promise<void> {
  // No pid: the spawn itself failed, there is nothing to stop.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 1_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}
