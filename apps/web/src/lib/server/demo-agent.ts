/**
 * The demo agent of `npm start` (RD_DEMO_AGENT=true): once the first admin exists, enrolls a real
 * agent through the real enrollment endpoint, sets it to "notify" (no prompt to answer on a screen
 * nobody sits at) and keeps `agent run --desk` running: its desktop (Xvfb, fluxbox, a terminal, an
 * editor) in a desk sandbox, so whoever connects gets a shell in that sandbox, not one on this
 * machine as the dashboard's user. A newcomer can click Connect within a minute of cloning. Its
 * credential lives in DATA_DIR.
 *
 * Everything here is asynchronous: the enrollment request is served by this very process, so a
 * synchronous child (spawnSync) would hold the event loop that has to answer it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { access, readFile } from "node:fs/promises";
import path from "node:path";
import { createEnrollmentCode } from "@rd/api";
import { Agents, type Database, Users } from "@rd/db";
import { and, asc, eq, isNull } from "drizzle-orm";
import { onPath } from "./on-path.ts";

/** The agent's CLI in this checkout: `npm start` runs the dashboard from the repository's root. */
const cli = path.resolve("apps/agent/src/cli.ts");
/** How often to look for the first admin: the demo should be online seconds after setup. */
const POLL_MS = 1000;
const RESTART_MS = [1000, 2000, 5000, 10_000, 30_000];
/** An agent that ran this long before exiting was healthy; its next restart starts the backoff anew. */
const HEALTHY_RUN_MS = 60_000;
/** `agent enroll` gives up on the server after 15 s itself; this only catches a hung child. */
const ENROLL_TIMEOUT_MS = 30_000;
/** What the agent may inherit from the dashboard: no secrets (RD_SECRET, RD_ADMIN_PASSWORD, DATABASE_URL). */
const INHERITED_ENV = /^(PATH|HOME|LANG|LC_[A-Z]+|TZ|TMPDIR|RD_AGENT_[A-Z_]+|RD_ICE_SERVERS)$/;

function killGroup(child: ChildProcess) {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // nothing left in the group
  }
}

/** Runs the agent CLI to completion; resolves with its exit code and what it printed on stderr. */
function runCli(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { env, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => (stderr = (stderr + text).slice(-4000)));
    const timer = setTimeout(() => child.kill("SIGKILL"), ENROLL_TIMEOUT_MS);
    child.once("error", (error) => {
      clearTimeout(timer);
      resolve({ code: null, stderr: error.message });
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr: stderr.trim() });
    });
  });
}

export interface DemoAgentOptions {
  db: Database;
  /** Where the dashboard listens, for the enrollment request. */
  serverUrl: string;
  dataDir: string;
  say(message: string): void;
}

export function startDemoAgent({ db, serverUrl, dataDir, say }: DemoAgentOptions): {
  stop(): Promise<void>;
} {
  const configDir = path.resolve(dataDir, "demo-agent");
  const credentialFile = path.join(configDir, "credential.json");
  const env: NodeJS.ProcessEnv = {
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => INHERITED_ENV.test(key))),
    RD_AGENT_CONFIG_DIR: configDir,
    RD_AGENT_LOG_LEVEL: process.env.RD_AGENT_LOG_LEVEL ?? "warn",
  };
  let child: ChildProcess | undefined;
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  async function enrolledAgentId(): Promise<string | undefined> {
    const text = await readFile(credentialFile, "utf8").catch(() => undefined);
    if (!text) return undefined;
    const { agentId } = JSON.parse(text) as { agentId: string };
    const [agent] = await db
      .select({ id: Agents.id })
      .from(Agents)
      .where(and(eq(Agents.id, agentId), isNull(Agents.removedAt)));
    return agent?.id;
  }

  async function enroll(): Promise<boolean> {
    const [admin] = await db
      .select({ id: Users.id, tenantId: Users.tenantId })
      .from(Users)
      .where(eq(Users.role, "admin"))
      .orderBy(asc(Users.createdAt))
      .limit(1);
    if (!admin) return false; // setup not done yet: try again later
    const { code } = await createEnrollmentCode(db, {
      tenantId: admin.tenantId,
      createdBy: admin.id,
      label: "demo desktop",
      expiresInMinutes: 5,
    });
    const result = await runCli(
      ["enroll", "--server", serverUrl, "--code", code, "--name", "Demo desktop"],
      env,
    );
    if (result.code !== 0) throw new Error(result.stderr || `agent enroll exited with ${result.code}`);
    const agentId = await enrolledAgentId();
    if (agentId) await db.update(Agents).set({ consentPolicy: "notify" }).where(eq(Agents.id, agentId));
    say('demo agent: enrolled "Demo desktop" (consent policy: notify)');
    return true;
  }

  function run() {
    // Its own process group, so a crashed agent's desktop goes with it (the sandbox also dies with it).
    const started = spawn(process.execPath, [cli, "run", "--desk", "1280x720"], {
      env,
      stdio: "inherit",
      detached: true,
    });
    const startedAt = Date.now();
    child = started;
    started.on("exit", (code) => {
      // Whatever of its desktop is still there (after a crash) goes; a moment first, so an X server
      // that is shutting down removes its lock and socket.
      setTimeout(() => killGroup(started), 2000).unref();
      child = undefined;
      if (stopped) return;
      if (Date.now() - startedAt > HEALTHY_RUN_MS) failures = 0;
      // 3 = credential refused (the demo agent was removed): the next round enrolls one new agent.
      const delay = code === 3 ? POLL_MS : RESTART_MS[Math.min(failures++, RESTART_MS.length - 1)]!;
      say(`demo agent: exited (code ${code}); starting again in ${delay / 1000} s`);
      schedule(delay);
    });
  }

  async function tick() {
    if (stopped) return;
    try {
      if (!(await enrolledAgentId()) && !(await enroll())) return schedule(POLL_MS);
      if (!stopped) run();
    } catch (error) {
      say(`demo agent: ${(error as Error).message}`);
      schedule(RESTART_MS.at(-1)!);
    }
  }

  function schedule(ms: number) {
    timer = setTimeout(() => void tick(), ms);
  }

  void (async () => {
    if (process.platform !== "linux" || !(await onPath("Xvfb")) || !(await onPath("bwrap"))) {
      say(
        "demo agent: needs Linux with Xvfb and bubblewrap (sudo apt-get install -y xvfb fluxbox xterm nano bubblewrap); not started",
      );
      return;
    }
    if (
      !(await access(cli).then(
        () => true,
        () => false,
      ))
    ) {
      say(`demo agent: ${cli} is missing (start the dashboard from the repository's root); not started`);
      return;
    }
    await tick();
  })();

  return {
    /** Stops the agent (it closes its desktop); whatever is left of its group after 3 s is killed. */
    async stop() {
      stopped = true;
      clearTimeout(timer);
      const running = child;
      if (!running) return;
      const exited = new Promise((resolve) => running.once("exit", resolve));
      running.kill("SIGTERM");
      const force = setTimeout(() => killGroup(running), 3000);
      await exited;
      clearTimeout(force);
    },
  };
}
