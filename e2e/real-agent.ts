/**
 * Runs the real agent for a browser test: enrolls it with a code made in the dashboard (through the
 * real endpoint, via `agent enroll`), then `agent run --virtual-display` on a fresh Xvfb desktop of
 * its own, and reads the X display back with xdotool/xclip the way a person at that machine would
 * see it.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Page, TestInfo } from "@playwright/test";
import { createEnrollmentCode } from "./helpers.ts";

const root = path.resolve(import.meta.dirname, "..");
const cli = path.join(root, "apps/agent/src/cli.ts");

export interface RealAgent {
  agentId: string;
  display: string;
  child: ChildProcess;
  logs: string[];
  /** Runs an X client on the agent's display. */
  x(command: string, args: string[]): string;
  /** Starts an X program on the agent's display and leaves it running until stop(). */
  launch(command: string, args: string[]): ChildProcess;
  pointer(): { x: number; y: number };
  stop(): Promise<void>;
}

export async function startRealAgent(
  page: Page,
  baseURL: string,
  options: { name: string; env?: Record<string, string> },
): Promise<RealAgent> {
  const code = await createEnrollmentCode(page);
  const configDir = mkdtempSync(path.join(tmpdir(), "rd-agent-"));
  const env = { ...process.env, RD_AGENT_CONFIG_DIR: configDir, RD_AGENT_LOG_LEVEL: "info", ...options.env };
  execFileSync(
    process.execPath,
    [cli, "enroll", "--server", baseURL, "--code", code, "--name", options.name],
    {
      env,
    },
  );
  const { agentId } = JSON.parse(readFileSync(path.join(configDir, "credential.json"), "utf8")) as {
    agentId: string;
  };
  // Its own process group: whatever it leaves behind (its Xvfb after a SIGKILL) is killed with it.
  const child = spawn(process.execPath, [cli, "run", "--virtual-display", "1280x720"], {
    env,
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  const logs: string[] = [];
  let display = "";
  let xauthority = "";
  const online = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`agent did not come online:\n${logs.join("\n")}`)),
      30_000,
    );
    const onLine = (line: string) => {
      logs.push(line);
      if (line.includes('"virtual desktop started"'))
        ({ display, xauthority } = JSON.parse(line) as { display: string; xauthority: string });
      if (line.includes('"msg":"online"')) {
        clearTimeout(timer);
        resolve();
      }
    };
    for (const stream of [child.stdout!, child.stderr!]) {
      let buffer = "";
      stream.setEncoding("utf8");
      stream.on("data", (text: string) => {
        buffer += text;
        const lines = buffer.split("\n");
        buffer = lines.pop()!;
        lines.forEach(onLine);
      });
    }
    child.once("exit", (code) => reject(new Error(`agent exited (${code}):\n${logs.join("\n")}`)));
  });
  await online;
  const launched: ChildProcess[] = [];
  // The desktop admits only clients with its cookie, as the agent's own are.
  const xEnv = { ...process.env, DISPLAY: display, XAUTHORITY: xauthority };
  return {
    agentId,
    display,
    child,
    logs,
    x: (command, args) => execFileSync(command, args, { env: xEnv, encoding: "utf8" }),
    launch: (command, args) => {
      const program = spawn(command, args, { env: xEnv, stdio: "ignore" });
      launched.push(program);
      return program;
    },
    pointer() {
      const out = spawnSync("xdotool", ["getmouselocation", "--shell"], {
        env: xEnv,
        encoding: "utf8",
      }).stdout;
      return { x: Number(/X=(\d+)/.exec(out)?.[1]), y: Number(/Y=(\d+)/.exec(out)?.[1]) };
    },
    async stop() {
      launched.forEach((p) => p.kill("SIGKILL"));
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await exited;
      }
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // the group is gone already
      }
    },
  };
}

export interface TypingTerminal {
  /** What reached the terminal so far (its `cat` writes every line to a file). */
  read(): string;
  /** Resolves once the terminal holds exactly `text`. */
  waitFor(text: string): Promise<void>;
  /** Resolves once X gives this terminal the keyboard focus (after a click in the viewer, say). */
  focused(): Promise<void>;
  remove(): void;
}

/**
 * Opens a terminal on the agent's desktop that writes whatever is typed into it to a file, and
 * waits until it shows: an app to type into, read back without the viewer. Magenta, so its pixels
 * are easy to find in the decoded video.
 */
export function typingTerminal(
  agent: RealAgent,
  title: string,
  geometry = "200x50+0+0",
  colors: { bg: string; fg: string } = { bg: "#ff00ff", fg: "black" },
): TypingTerminal {
  const file = path.join(tmpdir(), `${title}-${Date.now()}.txt`);
  writeFileSync(file, "");
  agent.launch("xterm", [
    "-title",
    title,
    "-bg",
    colors.bg,
    "-fg",
    colors.fg,
    "-geometry",
    geometry,
    "-e",
    "sh",
    "-c",
    `cat > ${file}`,
  ]);
  agent.x("xdotool", ["search", "--sync", "--onlyvisible", "--name", title]);
  const read = () => readFileSync(file, "utf8");
  return {
    read,
    waitFor: (text) =>
      eventually(() => {
        const content = read();
        if (content !== text) throw new Error(`typed so far: ${JSON.stringify(content)}`);
      }),
    focused: () =>
      eventually(() => {
        const focused = agent.x("xdotool", ["getwindowfocus", "getwindowname"]).trim();
        if (focused !== title) throw new Error(`focus on ${focused}`);
      }),
    remove: () => rmSync(file, { force: true }),
  };
}

/** Waits until `check` passes, retrying; for state that lives outside the page (X, files). */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** For afterEach: keeps the agent's log with a failed test (it explains most failures), then stops it. */
export async function finishAgent(agent: RealAgent | undefined, testInfo: TestInfo): Promise<void> {
  if (agent && testInfo.status !== testInfo.expectedStatus) {
    await testInfo.attach("agent.log", { body: agent.logs.join("\n"), contentType: "text/plain" });
  }
  await agent?.stop();
}
