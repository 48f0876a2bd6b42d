/**
 * The demo agent of `npm start` (RD_DEMO_AGENT=true): once the first admin exists, enrolls a real
 * agent through the real enrollment endpoint, sets it to "notify" (no prompt to answer on a screen
 * nobody sits at) and keeps `agent run --virtual-display` running on its own Xvfb desktop, so a
 * newcomer can click Connect within a minute of cloning. Its credential lives in DATA_DIR.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { createEnrollmentCode } from "@rd/api";
import { Agents, type Database, Users } from "@rd/db";
import { and, asc, eq, isNull } from "drizzle-orm";

const root = path.resolve(import.meta.dirname, "../..");
const cli = path.join(root, "apps/agent/src/cli.ts");
const POLL_MS = 2000;
const RESTART_MS = [1000, 2000, 5000, 10_000, 30_000];

function killGroup(child: ChildProcess) {
  try {
    process.kill(-child.pid!, "SIGKILL");
  } catch {
    // nothing left in the group
  }
}

export interface DemoAgentOptions {
  db: Database;
  /** Where the dashboard listens, for the enrollment request. */
  serverUrl: string;
  dataDir: string;
  say(message: string): void;
}

export function startDemoAgent({ db, serverUrl, dataDir, say }: DemoAgentOptions): { stop(): void } {
  const configDir = path.resolve(dataDir, "demo-agent");
  const credentialFile = path.join(configDir, "credential.json");
  const env = { ...process.env, RD_AGENT_CONFIG_DIR: configDir, RD_AGENT_LOG_LEVEL: "warn" };
  let child: ChildProcess | undefined;
  let stopped = false;
  let failures = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  if (process.platform !== "linux" || spawnSync("sh", ["-c", "command -v Xvfb"]).status !== 0) {
    say("demo agent: needs Linux with Xvfb (sudo apt-get install -y xvfb fluxbox xterm); not started");
    return { stop() {} };
  }

  async function enrolledAgentId(): Promise<string | undefined> {
    if (!existsSync(credentialFile)) return undefined;
    const { agentId } = JSON.parse(readFileSync(credentialFile, "utf8")) as { agentId: string };
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
    const result = spawnSync(
      process.execPath,
      [cli, "enroll", "--server", serverUrl, "--code", code, "--name", "Demo desktop"],
      { env, encoding: "utf8" },
    );
    if (result.status !== 0) throw new Error(result.stderr.trim() || "agent enroll failed");
    const agentId = await enrolledAgentId();
    if (agentId) await db.update(Agents).set({ consentPolicy: "notify" }).where(eq(Agents.id, agentId));
    say('demo agent: enrolled "Demo desktop" (consent policy: notify)');
    return true;
  }

  function run() {
    // Its own process group, so a crashed agent's desktop (Xvfb, fluxbox, xterm) goes with it.
    const started = spawn(process.execPath, [cli, "run", "--virtual-display", "1280x720"], {
      env,
      stdio: "inherit",
      detached: true,
    });
    child = started;
    started.on("exit", (code) => {
      killGroup(started);
      child = undefined;
      if (stopped) return;
      // 3 = credential refused (the demo agent was removed): enroll a new one on the next round.
      const delay = RESTART_MS[Math.min(failures++, RESTART_MS.length - 1)]!;
      say(`demo agent: exited (code ${code}); starting again in ${delay / 1000} s`);
      schedule(delay);
    });
  }

  async function tick() {
    if (stopped) return;
    try {
      if (!(await enrolledAgentId()) && !(await enroll())) return schedule(POLL_MS);
      run();
    } catch (error) {
      say(`demo agent: ${(error as Error).message}`);
      schedule(RESTART_MS.at(-1)!);
    }
  }

  function schedule(ms: number) {
    timer = setTimeout(() => void tick(), ms);
  }

  void tick();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
      const running = child;
      running?.kill("SIGTERM");
      if (running) setTimeout(() => killGroup(running), 2000).unref();
    },
  };
}
