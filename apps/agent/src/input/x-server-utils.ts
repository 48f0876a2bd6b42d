/**
 * Runs the X11 command-line clients of Debian's x11-xserver-utils (xmodmap), which the
 * injector uses to ask the X server what libnut cannot: the current keyboard layout.
 */
import { execFile } from "node:child_process";
import { childEnv } from "../child-env.ts";

/** These answer in milliseconds; the margin is for a loaded machine. */
const TIMEOUT_MS = 5_000;

/** Runs `command -display <display> ...args` and resolves with its stdout. */
export function runXClient(command: "xmodmap", display: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      command,
      ["-display", display, ...args],
      { timeout: TIMEOUT_MS, maxBuffer: 4 * 1024 * 1024, env: childEnv(display) },
      (error, stdout, stderr) => {
        if (error && (error as NodeJS.ErrnoException).code === "ENOENT") {
          reject(
            new Error(
              `${command} is not installed; install x11-xserver-utils: sudo apt-get install -y x11-xserver-utils`,
            ),
          );
        } else if (error) {
          reject(
            new Error(`cannot query X display ${display} with ${command}: ${stderr.trim() || error.message}`),
          );
        } else {
          resolve(stdout);
        }
      },
    );
  });
}
