/**
 * A virtual desktop: Xvfb on a free display number, optionally a window manager (fluxbox) and a
 * terminal (xterm). The demo agent of `npm start` runs on one (`agent run --virtual-display
 * 1280x720`), so will interview desks, and so do the agent's tests. Everything it starts is stopped
 * by close(), and killed on process exit as a last resort.
 *
 * The X server admits only clients with its cookie (x-authority.ts), and everything on the desktop
 * runs with the agent's minimal child environment (child-env.ts), never the agent's own.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { XVFB_SCREEN_FILE } from "./capture/x11/framebuffer-file.ts";
import { childEnv, useXAuthority } from "./child-env.ts";
import { commandExists } from "./preflight.ts";
import { createXAuthority, type XAuthority } from "./x-authority.ts";

export interface VirtualDisplayOptions {
  width?: number;
  height?: number;
  windowManager?: boolean;
  /** A command for a terminal window, e.g. ["bash"]; none when omitted. */
  terminal?: string[];
  /** The first display number to try (well above the :0/:1 of a desktop session by default). */
  firstDisplay?: number;
}

export interface VirtualDisplay {
  /** The X display name, e.g. ":90". */
  display: string;
  /** The Xauthority file holding the display's cookie (0600): XAUTHORITY for its clients. */
  xauthority: string;
  /** The screen's framebuffer file (`-fbdir`): what capture by change reads (RD_AGENT_FRAMEBUFFER). */
  framebuffer: string;
  width: number;
  height: number;
  /** Stops the terminal, the window manager and the X server, and deletes the cookie; safe to call twice. */
  close(): Promise<void>;
}

/** How many display numbers to try from the first. */
const DISPLAY_RANGE = 200;
/** Xvfb starts in well under a second; the margin is for a loaded 2-core machine. */
const START_TIMEOUT_MS = 15_000;

/** Children still running, killed synchronously if the process exits without closing them. */
const live = new Set<ChildProcess>();
/** The screens' directories (screenDir()): a killed Xvfb leaves its file behind. */
const screenDirs = new Set<string>();
process.on("exit", () => {
  for (const child of live) child.kill("SIGKILL");
  for (const dir of screenDirs) rmSync(dir, { recursive: true, force: true });
});

/**
 * A private (0700) directory for Xvfb's screen file (`-fbdir`), which capture by change reads. In
 * memory where there is a tmpfs: on a disk, the kernel would keep writing a busy screen back.
 */
async function screenDir(): Promise<{ dir: string; remove(): void }> {
  const dir = await mkdtemp(path.join(existsSync("/dev/shm") ? "/dev/shm" : tmpdir(), "rd-screen-"));
  screenDirs.add(dir);
  return {
    dir,
    remove: () => {
      screenDirs.delete(dir);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Whether display `n` is in use: a running X server holds its lock file. A lock whose server is
 * gone (killed without a chance to clean up) does not count: Xvfb removes such a lock itself.
 */
function displayTaken(n: number): boolean {
  const lock = `/tmp/.X${n}-lock`;
  if (!existsSync(lock)) return existsSync(`/tmp/.X11-unix/X${n}`);
  const pid = Number(readFileSync(lock, "utf8").trim());
  if (!Number.isInteger(pid) || pid <= 0) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: alive, someone else's.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Parses "1280x720" as the CLI takes it. */
export function parseGeometry(text: string): { width: number; height: number } {
  const match = /^(\d{3,5})x(\d{3,5})$/.exec(text);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 320 || height < 240 || width > 7680 || height > 4320) {
    throw new Error(
      `--virtual-display and --desk take WIDTHxHEIGHT between 320x240 and 7680x4320, like 1280x720 (got "${text}")`,
    );
  }
  return { width, height };
}

export async function startVirtualDisplay(options: VirtualDisplayOptions = {}): Promise<VirtualDisplay> {
  const { width = 1280, height = 720, windowManager = true, terminal, firstDisplay = 90 } = options;
  if (!commandExists("Xvfb")) throw new Error("Xvfb is missing: sudo apt-get install -y xvfb fluxbox xterm");
  for (let n = firstDisplay; n < firstDisplay + DISPLAY_RANGE; n++) {
    if (displayTaken(n)) continue;
    const authority = await createXAuthority(n);
    const screen = await screenDir();
    const cleanUp = () => {
      authority.remove();
      screen.remove();
    };
    const xvfb = await startXvfb(n, width, height, authority, screen.dir).catch((error: unknown) => {
      cleanUp();
      throw error;
    });
    // Another process took the number between the probe and the spawn: try the next one.
    if (!xvfb) {
      cleanUp();
      continue;
    }
    const display = `:${n}`;
    const forget = useXAuthority(display, authority.file);
    const env = childEnv(display);
    // Stopped in reverse order of start: clients first, the X server last.
    const children = [xvfb];
    if (windowManager) children.unshift(track(spawn("fluxbox", [], { stdio: "ignore", env })));
    if (terminal) {
      const args = ["-geometry", "100x30+40+40", "-fa", "Monospace", "-fs", "11", "-e", ...terminal];
      children.unshift(track(spawn("xterm", args, { stdio: "ignore", env })));
    }
    let closed: Promise<void> | undefined;
    return {
      display,
      xauthority: authority.file,
      framebuffer: path.join(screen.dir, XVFB_SCREEN_FILE),
      width,
      height,
      close: () =>
        (closed ??= stopAll(children).then(() => {
          forget();
          cleanUp();
        })),
    };
  }
  throw new Error(`no free X display between :${firstDisplay} and :${firstDisplay + DISPLAY_RANGE - 1}`);
}

/**
 * Spawns Xvfb on display `n`; resolves with the process once it accepts connections, or undefined
 * when the number turned out to be taken. `-displayfd` makes Xvfb itself say when it is ready, so
 * there is no polling; `-noreset` keeps the server state (pointer position, keyboard) when the last
 * client disconnects. `-auth` (and never `-ac`) makes it refuse every client without the cookie.
 * `-fbdir` keeps the screen in a file, for capture to read (screenDir()).
 */
function startXvfb(
  n: number,
  width: number,
  height: number,
  authority: XAuthority,
  screenDir: string,
): Promise<ChildProcess | undefined> {
  const args = [
    `:${n}`,
    "-screen",
    "0",
    `${width}x${height}x24`,
    "-auth",
    authority.file,
    "-fbdir",
    screenDir,
  ];
  const xvfb = track(
    spawn("Xvfb", [...args, "-nolisten", "tcp", "-noreset", "-displayfd", "3"], {
      stdio: ["ignore", "ignore", "pipe", "pipe"],
      env: childEnv(),
    }),
  );
  let stderr = "";
  xvfb.stderr?.on("data", (chunk: Buffer) => {
    // Keep only the tail: Xvfb prints xkbcomp warnings nobody needs in full.
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
      reject(new Error(`cannot start Xvfb (sudo apt-get install -y xvfb): ${error.message}`));
    });
    // "close", not "exit": exit can come before the last of stderr, which says why it stopped.
    xvfb.once("close", () => {
      clearTimeout(timer);
      // Another server took this number between the probe and the spawn (or holds its lock file).
      if (/already active|listening sockets|lock file/i.test(stderr)) resolve(undefined);
      else reject(new Error(`Xvfb :${n} exited during startup: ${stderr}`));
    });
  });
}

function track(child: ChildProcess): ChildProcess {
  live.add(child);
  child.once("exit", () => live.delete(child));
  child.once("error", () => live.delete(child));
  return child;
}

async function stopAll(children: ChildProcess[]) {
  for (const child of children) await stop(child);
}

/** SIGTERM, then SIGKILL if the process has not exited within a second. */
export function stop(child: ChildProcess): Promise<void> {
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
