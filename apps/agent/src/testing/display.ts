/**
 * Real X11 displays for tests: a private Xvfb (optionally with fluxbox), a focused xterm running a
 * shell command, and the pointer's position and windows' geometry read back with xdotool. Displays
 * come from the agent's own virtual-display.ts, which kills what it started on process exit too.
 */
import { execFile, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { childEnv } from "../child-env.ts";
import { startVirtualDisplay, stop } from "../virtual-display.ts";

export interface TestDisplay {
  /** The X display name, e.g. ":50". */
  display: string;
  /** The agent's child environment for this display (DISPLAY, XAUTHORITY), for X clients. */
  env: NodeJS.ProcessEnv;
  /** Xvfb's framebuffer file (`-fbdir`): RD_AGENT_FRAMEBUFFER for an agent on this display. */
  framebuffer: string;
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

/** Display numbers apart from the demo agent's (:90 up), above a developer's own session. */
const FIRST_DISPLAY = 50;
/** fluxbox starts in well under a second; the margin is for a loaded 2-core CI machine. */
const WM_TIMEOUT_MS = 15_000;

/** Starts a private Xvfb (see virtual-display.ts) from :50 up; with a window manager that manages. */
export async function startDisplay(options: DisplayOptions = {}): Promise<TestDisplay> {
  const desktop = await startVirtualDisplay({
    width: options.width ?? 1024,
    height: options.height ?? 768,
    windowManager: options.windowManager ?? false,
    firstDisplay: FIRST_DISPLAY,
  });
  const env = childEnv(desktop.display);
  if (options.windowManager) {
    try {
      await waitForWindowManager(env);
    } catch (error) {
      await desktop.close();
      throw error;
    }
  }
  return { ...desktop, env };
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
  const env = childEnv(display);
  // A unique instance name, so the search finds this xterm and not another test's.
  const name = `rdterm${randomUUID().slice(0, 8)}`;
  const geometry = options.geometry ?? "80x24+0+0";
  const xterm = spawn("xterm", ["-name", name, "-geometry", geometry, "-e", "sh", "-c", shellCommand], {
    env,
    stdio: "ignore",
  });
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
  const out = await xdotool(childEnv(display), ["getwindowgeometry", "--shell", windowId]);
  const read = (name: string) => {
    const value = new RegExp(`^${name}=(-?\\d+)$`, "m").exec(out)?.[1];
    if (value === undefined) throw new Error(`unexpected xdotool output: ${out}`);
    return Number(value);
  };
  return { x: read("X"), y: read("Y"), width: read("WIDTH"), height: read("HEIGHT") };
}

/** Where the X pointer is now, in screen pixels. */
export async function pointerLocation(display: string): Promise<{ x: number; y: number }> {
  const out = await xdotool(childEnv(display), ["getmouselocation", "--shell"]);
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

/** Waits until fluxbox manages the screen: a window manager's first act is to claim the root. */
async function waitForWindowManager(env: NodeJS.ProcessEnv): Promise<void> {
  const deadline = Date.now() + WM_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const ready = await xdotool(env, ["get_num_desktops"]).then(
      (out) => Number(out.trim()) > 0,
      () => false,
    );
    if (ready) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the window manager did not start within ${WM_TIMEOUT_MS} ms`);
}
