/**
 * A virtual desktop: Xvfb on a free display number, a window manager (fluxbox) and a terminal
 * (xterm). The demo agent of `npm start` runs on one (`agent run --virtual-display 1280x720`), and
 * so will interview desks. Everything it starts is stopped by close().
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export interface VirtualDisplayOptions {
  width?: number;
  height?: number;
  windowManager?: boolean;
  /** A command for a terminal window, e.g. ["bash"]; none when omitted. */
  terminal?: string[];
  /** The first display number to try. */
  firstDisplay?: number;
}

export interface VirtualDisplay {
  display: string;
  width: number;
  height: number;
  close(): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;

function displayFree(n: number) {
  return !existsSync(`/tmp/.X11-unix/X${n}`) && !existsSync(`/tmp/.X${n}-lock`);
}

async function waitFor(check: () => boolean, what: string, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function answers(display: string) {
  // xclip is one of the agent's own dependencies: it fails with "Can't open display" until X is up.
  const probe = spawnSync("xclip", ["-selection", "clipboard", "-o"], {
    env: { ...process.env, DISPLAY: display },
    encoding: "utf8",
    timeout: 2000,
  });
  return !/can't open display/i.test(probe.stderr ?? "") && !probe.error;
}

/** Parses "1280x720" as the CLI takes it. */
export function parseGeometry(text: string): { width: number; height: number } {
  const match = /^(\d{3,5})x(\d{3,5})$/.exec(text);
  const width = Number(match?.[1]);
  const height = Number(match?.[2]);
  if (!match || width < 320 || height < 240 || width > 7680 || height > 4320) {
    throw new Error(
      `--virtual-display takes WIDTHxHEIGHT between 320x240 and 7680x4320, like 1280x720 (got "${text}")`,
    );
  }
  return { width, height };
}

export async function startVirtualDisplay(options: VirtualDisplayOptions = {}): Promise<VirtualDisplay> {
  const { width = 1280, height = 720, windowManager = true, terminal, firstDisplay = 90 } = options;
  if (spawnSync("sh", ["-c", "command -v Xvfb"]).status !== 0) {
    throw new Error("Xvfb is missing: sudo apt-get install -y xvfb fluxbox xterm");
  }
  const children: ChildProcess[] = [];
  let display = "";
  for (let n = firstDisplay; n < firstDisplay + 100 && !display; n++) {
    if (!displayFree(n)) continue;
    const xvfb = spawn(
      "Xvfb",
      [`:${n}`, "-screen", "0", `${width}x${height}x24`, "-nolisten", "tcp", "-noreset"],
      { stdio: "ignore" },
    );
    const exited = new Promise<boolean>((resolve) => {
      xvfb.once("exit", () => resolve(true));
      xvfb.once("error", () => resolve(true));
    });
    const up = await Promise.race([
      waitFor(() => existsSync(`/tmp/.X11-unix/X${n}`), `display :${n}`).then(() => true),
      exited.then(() => false),
    ]).catch(() => false);
    if (up && xvfb.exitCode === null) {
      display = `:${n}`;
      children.push(xvfb);
    } else {
      xvfb.kill("SIGKILL");
    }
  }
  if (!display) throw new Error("could not start Xvfb on any display number");
  const close = async () => {
    for (const child of children.reverse()) child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 100));
  };
  try {
    await waitFor(() => answers(display), `X on ${display}`);
    const env = { ...process.env, DISPLAY: display };
    if (windowManager) children.push(spawn("fluxbox", [], { stdio: "ignore", env }));
    if (terminal) {
      children.push(
        spawn("xterm", ["-geometry", "100x30+40+40", "-fa", "Monospace", "-fs", "11", "-e", ...terminal], {
          stdio: "ignore",
          env,
        }),
      );
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { display, width, height, close };
}
