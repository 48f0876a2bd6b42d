/**
 * The desk host (design flow 5): what turns desk rows into running desktops on this machine. It
 * takes pending desks through `provision` (the provider starts the sandbox; the host registers and
 * starts the desk's agent beside it, outside the sandbox, on its display) to `ready` once the agent
 * is online, or `fail` with a reason the interviewer can read; it keeps a warm pool of ready desks
 * per tenant and template; it runs the expiry clock; and it tears down every desk that ended:
 * agent, sandbox, credential, directory. On start-up it reaps what a crash left behind.
 *
 * It wakes on the control feed (a desk created, terminated, its time extended) and on a one-second
 * tick besides, so a lost notice delays a change by a second at most. Nothing here blocks the event
 * loop: the dashboard that hosts it serves the requests these desks make.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { setPriority } from "node:os";
import path from "node:path";
import {
  Agents,
  type DbHandle,
  type Desk,
  Desks,
  type DeskTransitionOptions,
  IllegalDeskTransition,
  parseControlNotice,
  sweepDeskExpiry,
  Tenants,
  transitionDesk,
  Users,
} from "@rd/db";
import type { Logger } from "@rd/log";
import { builtInDeskTemplate, TERMINAL_DESK_STATES } from "@rd/protocol";
import type { DeskProvider, StartedDesk } from "@rd/sandbox";
import { and, count, eq, inArray, notInArray } from "drizzle-orm";
import { registerDeskAgent, removeDeskAgent } from "./desk-agent.ts";

export interface DeskHostOptions {
  handle: DbHandle;
  provider: DeskProvider;
  /** The agent CLI (apps/agent/src/cli.ts) that runs beside each desk. */
  agentCli: string;
  /** Where each desk agent's config directory goes (one per desk, removed with it). */
  stateDir: string;
  serverUrl: string;
  signalUrl: string;
  /** Warm desks to keep ready per tenant, by template name; templates not named get none. */
  pool?: Readonly<Record<string, number>>;
  /** Provisioning gives up after this long (sandbox up and agent online); the desk fails. */
  provisionTimeoutMs?: number;
  /** Environment the desk agents inherit (their log level, codec…); never the server's secrets. */
  agentEnv?: Record<string, string>;
  log: Logger;
}

/** A desk this host runs: its sandbox and the agent process beside it. */
interface Running {
  deskId: string;
  tenantId: string;
  started: StartedDesk;
  agent: ChildProcess | undefined;
  configDir: string;
  /** Started for the warm pool: its agent runs at a low CPU priority until an interviewer takes it. */
  pooled: boolean;
  /** Set once teardown began, so it runs once. */
  stopping?: Promise<void>;
}

const TICK_MS = 1000;
/** At most this many desks start at once: each start is CPU-heavy for a second (Xvfb, the agent's boot). */
const CONCURRENT_STARTS = 2;
const LIVE_STATES = ["provisioning", "ready", "active", "expiring"] as const;

export class DeskHost {
  readonly #o: Required<Omit<DeskHostOptions, "pool" | "agentEnv">> &
    Pick<DeskHostOptions, "pool" | "agentEnv">;
  readonly #log: Logger;
  readonly #running = new Map<string, Running>();
  /** Desks being provisioned, by id: stop() waits for them, so none outlives the database. */
  readonly #starting = new Map<string, Promise<void>>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #unlisten: (() => Promise<void>) | undefined;
  #ticking: Promise<void> | undefined;
  #again = false;
  #stopped = false;

  constructor(options: DeskHostOptions) {
    this.#o = { provisionTimeoutMs: 30_000, ...options };
    this.#log = options.log.child({ module: "desk-host" });
  }

  get #db() {
    return this.#o.handle.db;
  }

  /** Reaps what a previous run left, then starts serving desks. */
  async start(): Promise<void> {
    await this.#reapAtStartup();
    this.#unlisten = await this.#o.handle.listen((payload) => {
      if (parseControlNotice(payload)?.kind === "desk") this.wake();
    });
    this.#timer = setInterval(() => this.wake(), TICK_MS);
    this.#timer.unref();
    this.wake();
  }

  /** Runs a pass now (or right after the one under way). */
  wake(): void {
    if (this.#stopped) return;
    if (this.#ticking) {
      this.#again = true;
      return;
    }
    this.#ticking = this.#tick()
      .catch((error: unknown) => this.#log.error({ err: error }, "desk host pass failed"))
      .finally(() => {
        this.#ticking = undefined;
        if (this.#again) {
          this.#again = false;
          this.wake();
        }
      });
  }

  /** Stops every desk this host runs; they are failed in the database ("the server stopped"). */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    await this.#ticking;
    // A start under way gives up at its next step (#agentOnline sees #stopped) and cleans up itself.
    await Promise.allSettled(this.#starting.values());
    await Promise.all(
      [...this.#running.values()].map((r) => this.#failAndTearDown(r, "the dashboard stopped")),
    );
  }

  /** Desks running here now (for tests and the benchmark). */
  runningDeskIds(): string[] {
    return [...this.#running.keys()];
  }

  async #tick(): Promise<void> {
    await sweepDeskExpiry(this.#db);
    await this.#tearDownEnded();
    await this.#promoteAdopted();
    await this.#refillPool();
    await this.#startPending();
  }

  // ——— Start-up ———

  /**
   * A local desk does not outlive its server (bubblewrap's --die-with-parent): whatever the database
   * still calls live was this host's before a crash or restart, so it fails with that reason, its
   * agent goes, and the provider removes the sandboxes' directories and cgroups.
   */
  async #reapAtStartup(): Promise<void> {
    const orphans = await this.#db
      .select({ id: Desks.id, tenantId: Desks.tenantId })
      .from(Desks)
      .where(inArray(Desks.state, [...LIVE_STATES]));
    for (const desk of orphans) {
      await this.#fail(desk, "the dashboard restarted, and a desk does not survive that");
      await removeDeskAgent(this.#db, desk.id, this.#configDir(desk.id));
    }
    const reaped = await this.#o.provider.reap(new Set());
    if (orphans.length + reaped.length > 0) {
      this.#log.info({ failed: orphans.length, reaped: reaped.length }, "cleaned up desks of a previous run");
    }
  }

  // ——— Starting ———

  async #startPending(): Promise<void> {
    const room = CONCURRENT_STARTS - this.#starting.size;
    if (room <= 0) return;
    // Interviewers' desks before warm ones: a candidate may be waiting for this one.
    const pending = await this.#db
      .select()
      .from(Desks)
      .where(eq(Desks.state, "pending"))
      .orderBy(Desks.pooled, Desks.createdAt)
      .limit(room);
    for (const desk of pending) {
      if (this.#starting.has(desk.id) || this.#running.has(desk.id)) continue;
      const start = this.#provision(desk).finally(() => {
        this.#starting.delete(desk.id);
        this.wake();
      });
      this.#starting.set(desk.id, start);
    }
  }

  async #provision(desk: Desk): Promise<void> {
    const log = this.#log.child({ desk: desk.id });
    // Refused: another host took it, or it ended meanwhile.
    if (!(await this.#move(desk, "provision", "starting its sandbox"))) return;
    const startedAt = performance.now();
    const configDir = this.#configDir(desk.id);
    let running: Running | undefined;
    try {
      const started = await withTimeout(
        this.#o.provider.start({ id: desk.id, tenantId: desk.tenantId, template: desk.template }),
        this.#o.provisionTimeoutMs,
        "the sandbox did not start",
      );
      if (this.#stopped) {
        await this.#o.provider.stop(started.providerRef);
        throw new Error("the dashboard is stopping");
      }
      running = {
        deskId: desk.id,
        tenantId: desk.tenantId,
        started,
        agent: undefined,
        configDir,
        pooled: desk.pooled,
      };
      this.#running.set(desk.id, running);
      if (!started.display)
        throw new Error("this provider runs the desk's agent itself; the local host cannot");
      const agentId = await registerDeskAgent(this.#db, desk, {
        serverUrl: this.#o.serverUrl,
        signalUrl: this.#o.signalUrl,
        configDir,
      });
      running.agent = this.#spawnAgent(
        running,
        started.display.outside([process.execPath, this.#o.agentCli, "run"]),
      );
      // A warm desk boots (a second of CPU or two) at low priority: refilling the pool right after
      // an interviewer took its desk must not slow that desk's candidate down.
      if (desk.pooled) setNice(running.agent, WARM_NICE);
      void started.display.exited.then(() => {
        if (!running!.stopping) void this.#failAndTearDown(running!, "the desk's display stopped");
      });
      const left = this.#o.provisionTimeoutMs - (performance.now() - startedAt);
      await withTimeout(
        this.#agentOnline(agentId, running),
        Math.max(left, 1),
        "the desk's agent did not come online",
      );
      const ready = await this.#move(desk, "ready", "its desktop is up", {
        providerRef: started.providerRef,
        data: { startMs: Math.round(performance.now() - startedAt), pooled: desk.pooled },
      });
      if (!ready) throw new Error("it ended while it was starting");
      log.info({ ms: Math.round(performance.now() - startedAt), pooled: desk.pooled }, "desk ready");
    } catch (error) {
      const reason = `provisioning failed: ${(error as Error).message}`.slice(0, 500);
      log.warn({ err: error }, "desk could not be started");
      if (running) await this.#failAndTearDown(running, reason);
      else {
        await this.#fail(desk, reason);
        await removeDeskAgent(this.#db, desk.id, configDir);
      }
    }
  }

  #spawnAgent(running: Running, command: { file: string; args: string[]; env: Record<string, string> }) {
    const child = spawn(command.file, command.args, {
      env: {
        ...inheritedEnv(),
        ...this.#o.agentEnv,
        ...command.env,
        RD_AGENT_CONFIG_DIR: running.configDir,
        // It stops by itself if this server dies without tearing it down (the sandbox already does).
        RD_AGENT_EXIT_WITH_PARENT: "true",
      },
      stdio: ["ignore", "inherit", "inherit"],
      // Its own process group: teardown stops the agent and whatever it started (ffmpeg, xclip).
      detached: true,
    });
    child.once("error", (error) =>
      this.#log.error({ err: error, desk: running.deskId }, "desk agent failed to start"),
    );
    child.once("exit", (code, signal) => {
      if (running.stopping) return;
      void this.#failAndTearDown(running, `the desk's agent stopped (${signal ?? `exit code ${code}`})`);
    });
    return child;
  }

  /** Resolves once the agent's row says online; rejects when its process exits first. */
  async #agentOnline(agentId: string, running: Running): Promise<void> {
    for (;;) {
      if (this.#stopped) throw new Error("the dashboard is stopping");
      if (running.stopping || running.agent?.exitCode !== null)
        throw new Error("the desk's agent exited while starting");
      const [row] = await this.#db
        .select({ status: Agents.status })
        .from(Agents)
        .where(eq(Agents.id, agentId));
      if (row?.status === "online") return;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  // ——— The warm pool ———

  /** Tops up each set-up tenant's warm desks per template (the pool's desks are pending until started). */
  async #refillPool(): Promise<void> {
    const wanted = Object.entries(this.#o.pool ?? {}).filter(([, size]) => size > 0);
    if (wanted.length === 0) return;
    const tenants = await this.#db
      .selectDistinct({ id: Tenants.id })
      .from(Tenants)
      .innerJoin(Users, eq(Users.tenantId, Tenants.id));
    for (const tenant of tenants) {
      for (const [name, size] of wanted) {
        const template = builtInDeskTemplate(name);
        if (!template) continue;
        const [have] = await this.#db
          .select({ n: count() })
          .from(Desks)
          .where(
            and(
              eq(Desks.tenantId, tenant.id),
              eq(Desks.templateName, name),
              eq(Desks.pooled, true),
              notInArray(Desks.state, [...TERMINAL_DESK_STATES]),
            ),
          );
        for (let i = have?.n ?? 0; i < size; i++) {
          // A warm desk lives the longest a desk may; adopting it starts its own clock anew.
          await this.#db.insert(Desks).values({
            tenantId: tenant.id,
            templateName: name,
            template,
            candidateLabel: "",
            createdBy: null,
            pooled: true,
            expiresAt: new Date(Date.now() + 8 * 60 * 60_000),
          });
        }
      }
    }
  }

  /** A warm desk an interviewer took gets its agent's normal CPU priority back. */
  async #promoteAdopted(): Promise<void> {
    const warm = [...this.#running.values()].filter((r) => r.pooled);
    if (warm.length === 0) return;
    const adopted = await this.#db
      .select({ id: Desks.id })
      .from(Desks)
      .where(
        and(
          inArray(
            Desks.id,
            warm.map((r) => r.deskId),
          ),
          eq(Desks.pooled, false),
        ),
      );
    for (const { id } of adopted) {
      const running = this.#running.get(id)!;
      running.pooled = false;
      setNice(running.agent, 0);
    }
  }

  // ——— Ending ———

  /** Tears down each desk running here that ended (terminated, expired, failed elsewhere). */
  async #tearDownEnded(): Promise<void> {
    if (this.#running.size === 0) return;
    const ended = await this.#db
      .select({ id: Desks.id })
      .from(Desks)
      .where(
        and(inArray(Desks.id, [...this.#running.keys()]), inArray(Desks.state, [...TERMINAL_DESK_STATES])),
      );
    await Promise.all(ended.map((d) => this.#tearDown(this.#running.get(d.id)!)));
  }

  async #failAndTearDown(running: Running, reason: string): Promise<void> {
    if (!running.stopping) await this.#fail({ id: running.deskId, tenantId: running.tenantId }, reason);
    await this.#tearDown(running);
  }

  /** Fails the desk unless it ended already (then its own ending stands). */
  async #fail(desk: { id: string; tenantId: string }, reason: string): Promise<void> {
    await this.#move(desk, "fail", reason);
  }

  /** Moves the desk as the host; false when the table refused (someone else moved it first). */
  async #move(
    desk: { id: string; tenantId: string },
    transition: "provision" | "ready" | "fail",
    reason: string,
    extra: Pick<DeskTransitionOptions, "providerRef" | "data"> = {},
  ): Promise<boolean> {
    try {
      await transitionDesk(this.#db, {
        tenantId: desk.tenantId,
        deskId: desk.id,
        transition,
        actor: { type: "system" },
        reason,
        ...extra,
      });
      return true;
    } catch (error) {
      if (error instanceof IllegalDeskTransition) return false;
      throw error;
    }
  }

  /** Agent first (it holds the display), then the sandbox, then the agent's credential and directory. */
  #tearDown(running: Running): Promise<void> {
    running.stopping ??= (async () => {
      await stopGroup(running.agent);
      await this.#o.provider.stop(running.started.providerRef);
      await removeDeskAgent(this.#db, running.deskId, running.configDir);
      this.#running.delete(running.deskId);
      this.#log.info({ desk: running.deskId }, "desk torn down");
    })();
    return running.stopping;
  }

  #configDir(deskId: string) {
    return path.join(this.#o.stateDir, deskId);
  }
}

/** The warm pool's CPU niceness (0 normal, 19 lowest). */
const WARM_NICE = 10;

/**
 * Sets the agent's niceness. Raising it back to 0 takes root (or CAP_SYS_NICE): elsewhere an
 * adopted warm desk keeps its low priority, which only matters when the CPU is short.
 */
function setNice(child: ChildProcess | undefined, nice: number) {
  if (!child?.pid) return;
  try {
    setPriority(child.pid, nice);
  } catch {
    // not permitted, or already gone
  }
}

/** What a desk agent takes from this process's environment: locale and home, no secrets. */
function inheritedEnv(): Record<string, string> {
  const passed = /^(HOME|LANG|LANGUAGE|LC_[A-Z]+|TZ|RD_AGENT_[A-Z_]+|RD_ICE_SERVERS)$/;
  return Object.fromEntries(
    Object.entries(process.env).filter((e): e is [string, string] => e[1] !== undefined && passed.test(e[0])),
  );
}

/** SIGTERM to the process group, SIGKILL after 3 s; resolves once the leader exited. */
async function stopGroup(child: ChildProcess | undefined): Promise<void> {
  if (!child?.pid || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  const signal = (name: NodeJS.Signals) => {
    try {
      process.kill(-child.pid!, name);
    } catch {
      // the group is gone
    }
  };
  signal("SIGTERM");
  const force = setTimeout(() => signal("SIGKILL"), 3000);
  await exited;
  clearTimeout(force);
  signal("SIGKILL"); // whatever of the group outlived its leader
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout>;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} within ${Math.round(ms / 1000)} s`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** "interview:1,pair:0" → { interview: 1, pair: 0 }; throws naming the bad entry. */
export function parseDeskPool(text: string): Record<string, number> {
  const pool: Record<string, number> = {};
  for (const entry of text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean)) {
    const match = /^([a-z0-9-]+):(\d{1,2})$/.exec(entry);
    if (!match) throw new Error(`"${entry}" is not "template:size" (e.g. interview:1)`);
    if (!builtInDeskTemplate(match[1]!)) throw new Error(`there is no desk template "${match[1]}"`);
    pool[match[1]!] = Number(match[2]);
  }
  return pool;
}
