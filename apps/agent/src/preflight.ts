/**
 * Checks before `agent run` touches the screen, each failing with what to do: a display to capture
 * (nut-js crashes the process without one, so this comes first), ffmpeg, and the X tools the
 * clipboard and the consent prompt use.
 */
import { spawnSync } from "node:child_process";
import { childEnv } from "./child-env.ts";
import type { AgentConfig } from "./config.ts";
import { agentCommand } from "./invocation.ts";

export class PreflightError extends Error {}

/** True when `command` is on PATH. */
export function commandExists(command: string): boolean {
  return (
    spawnSync("sh", ["-c", `command -v "$0"`, command], { stdio: "ignore", env: childEnv() }).status === 0
  );
}

/** Returns the display to capture; throws a PreflightError that says how to fix what is missing. */
export async function preflight(config: AgentConfig): Promise<string> {
  if (process.platform !== "linux") {
    throw new PreflightError(
      `this build of the agent runs on Linux (X11). Capture command lines for ${process.platform} exist but are untested.`,
    );
  }
  const display = config.display;
  if (!display) {
    throw new PreflightError(
      `no DISPLAY: run the agent inside the X session it should share (e.g. DISPLAY=:0 ${agentCommand("run")}), ` +
        `or on a virtual desktop of its own (${agentCommand("run --virtual-display 1280x720")})`,
    );
  }
  const env = childEnv(display);
  if (!commandExists("ffmpeg")) {
    throw new PreflightError("ffmpeg is missing: sudo apt-get install -y ffmpeg");
  }
  if (!commandExists("xclip")) {
    throw new PreflightError("xclip is missing: sudo apt-get install -y xclip");
  }
  if (!commandExists("xmessage")) {
    throw new PreflightError("xmessage (consent prompt) is missing: sudo apt-get install -y x11-utils");
  }
  // xclip -o exits non-zero on an empty clipboard but says "Can't open display" when X is unreachable.
  const probe = spawnSync("xclip", ["-selection", "clipboard", "-o"], {
    env,
    encoding: "utf8",
    timeout: 5000,
  });
  if (/can't open display/i.test(probe.stderr ?? "")) {
    throw new PreflightError(
      `cannot open display ${display}: is the X server running and may this user use it?`,
    );
  }
  return display;
}
