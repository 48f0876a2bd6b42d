/**
 * `agent run --desk WxH`: the agent's desktop in a desk sandbox (@rd/sandbox). Whoever connects
 * gets a terminal in that sandbox (no network, a private home and /tmp in memory, no view of the
 * host's files, limits on memory, CPU and processes), not a shell on this machine as the agent's
 * user. The agent itself is trusted and stays outside: it runs as a child in a mount namespace of
 * its own where the desk's X socket is /tmp/.X11-unix (libX11 takes no socket path), so nut-js,
 * ffmpeg and xclip reach the desk's display, with its cookie, and nothing else of the desk.
 */
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Logger } from "@rd/log";
import { reapDeskSandboxes, startDeskSandbox } from "@rd/sandbox";

/** What the agent child takes from this process's environment; the display and cookie come from the desk. */
const PASSED = /^(HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|TMPDIR|RD_AGENT_[A-Z_]+|RD_ICE_SERVERS)$/;

export async function runInDesk(options: {
  resolution: string;
  configDir: string;
  /** The agent CLI's own path: the child runs `run` against the desk's display. */
  cli: string;
  log: Logger;
}): Promise<number> {
  const { log } = options;
  // One base directory per agent (per config dir), so reaping what a crash left touches no one
  // else's desks. Not inside the config dir: the desk's own host user must traverse to its files,
  // and the config dir (in the dashboard's DATA_DIR for the demo agent) is its owner's alone.
  const key = createHash("sha256").update(path.resolve(options.configDir)).digest("hex").slice(0, 12);
  const baseDir = path.join(tmpdir(), `rd-desks-agent-${key}`);
  const reaped = await reapDeskSandboxes(baseDir, log);
  if (reaped.length > 0) log.info({ reaped }, "removed desks a previous run left behind");
  const desk = await startDeskSandbox({
    id: `agent-${process.pid}`,
    resolution: options.resolution,
    baseDir,
    log: log.child({ desk: `agent-${process.pid}` }),
  });
  // The pid is the desk's init on this machine: a test (or an admin) can look into the desk through it.
  log.info({ display: desk.display, deskPid: desk.pid, xauthority: desk.xauthority }, "desk sandbox started");

  const command = desk.outside([process.execPath, options.cli, "run"]);
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && PASSED.test(e[0])),
  );
  const child = spawn(command.file, command.args, {
    env: { ...inherited, ...command.env },
    stdio: "inherit",
  });
  const exited = new Promise<number>((resolve) => {
    child.once("exit", (code, signal) => resolve(code ?? (signal ? 1 : 0)));
    child.once("error", (error) => {
      log.error({ err: error }, "the agent could not start in the desk");
      resolve(1);
    });
  });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  process.once("SIGINT", forward("SIGINT"));
  process.once("SIGTERM", forward("SIGTERM"));
  // A desk whose X server died leaves the agent nothing to show: stop it, and let the caller restart both.
  void desk.exited.then(() => {
    if (child.exitCode === null) {
      log.warn({}, "the desk ended under the agent; stopping the agent");
      child.kill("SIGTERM");
    }
  });
  try {
    return await exited;
  } finally {
    await desk.stop();
  }
}
