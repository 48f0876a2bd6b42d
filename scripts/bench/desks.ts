/**
 * `npm run bench:desks`: interview desks as a candidate meets them, on the real product (the
 * dashboard's server entry with its desk host and a warm pool of one interview desk, a fresh
 * embedded database) and headless Chromium. An admin creates desks through tRPC; each candidate opens
 * the desk's link in a browser context of their own, with no account. It measures
 *
 * - link click (the candidate page's navigation) → first decoded frame shown, with a warm desk
 *   waiting (the pool's, adopted at creation);
 * - the same with no warm desk left (a throwaway desk takes the warm one first), so it starts cold;
 * - density: desks added one at a time (1366×768, the default template), each new one timed the
 *   same way, its candidate page closed after its first frame, until one takes over 3 s;
 * - the idle cost of those desks once nobody watches: CPU and memory of each sandbox and its agent.
 *
 * and prints them beside the targets. Prints figures; asserts nothing.
 *
 * Knobs: WARM (warm runs, 5), COLD (cold runs, 5), MAX_DESKS (density cap, 12), IDLE_SECONDS (idle
 * window, 20), IDLE_DESKS (at least this many idle desks, 3: desks are added, never opened, when the
 * density run left fewer), RD_AGENT_LOG_LEVEL (the desk agents', "warn"), BENCH_PORT (3400; the
 * signaling worker takes the next port), CHROMIUM_PATH.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { type Browser, chromium, type Page } from "@playwright/test";
import { createLogger } from "@rd/log";
import { reapDeskSandboxes } from "@rd/sandbox";
import { chromiumLaunchOptions } from "../../e2e/chromium.ts";
import { admin, signInAsAdmin } from "../../e2e/helpers.ts";
import { root, waitForHttp } from "../lib.ts";
import { sleep } from "./media/measure.ts";
import { installBenchHooks } from "./media/page-hooks.ts";
import { allPids, type ProcStat as Proc, readStat, TICKS_PER_SECOND } from "./media/processes.ts";
import { wholeNumber } from "./env.ts";

const WARM = wholeNumber("WARM", 5, 0);
const COLD = wholeNumber("COLD", 5, 0);
const MAX_DESKS = wholeNumber("MAX_DESKS", 12);
const IDLE_SECONDS = wholeNumber("IDLE_SECONDS", 20);
const IDLE_DESKS = wholeNumber("IDLE_DESKS", 3);
const PORT = wholeNumber("BENCH_PORT", 3400, 3400);

/** The issue's targets. */
const WARM_TARGET_MS = 1000;
const COLD_TARGET_MS = 3000;
const DENSITY_LIMIT_MS = 3000;
const IDLE_CPU_TARGET = 0.02;
const IDLE_MEMORY_TARGET_MIB = 150;

/** A cold start takes a few seconds on an idle machine: a minute covers a loaded one. */
const POOL_REFILL_TIMEOUT_MS = 60_000;
/** Past this a run has failed: a desk that cannot start fails after 20 s (the desk host's timeout). */
const FIRST_FRAME_TIMEOUT_MS = 45_000;
/** Teardown (agent, Xvfb, cgroup) costs CPU: the next run waits for it so it does not pay for it. */
const TEARDOWN_TIMEOUT_MS = 20_000;
/** Closed viewers' sessions end and their encoders stop before the idle window opens. */
const IDLE_SETTLE_MS = 10_000;
const MIB = 1024 * 1024;

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`;
const log = (message: string) => process.stderr.write(`[bench:desks] ${message}\n`);
const baseURL = `http://127.0.0.1:${PORT}`;

// ---- the product ---------------------------------------------------------------------------------

/** Environment of this shell that would change the product's defaults (as e2e/product.ts scrubs it). */
const SCRUBBED = /^(PORT|SIGNAL_PORT|DATA_DIR|DATABASE_URL|REDIS_URL|RD_[A-Z_]+|LOG_LEVEL|E2E_[A-Z_]+)$/;

/**
 * The dashboard's server entry with the environment `npm start` gives it (e2e/product.ts's "server"
 * entry), the admin seeded from the environment so no setup page stands in the way. A process group
 * of its own, so that stopping it reaches everything it started.
 */
async function startServer(dataDir: string): Promise<ChildProcess> {
  if (
    await fetch(`${baseURL}/healthz`).then(
      () => true,
      () => false,
    )
  ) {
    throw new Error(`something already answers on ${baseURL}: choose another BENCH_PORT`);
  }
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !SCRUBBED.test(key)));
  const server = spawn(process.execPath, [path.join(root, "apps/web/serve.ts")], {
    cwd: root,
    env: {
      ...inherited,
      PORT: String(PORT),
      SIGNAL_PORT: String(PORT + 1),
      DATA_DIR: dataDir,
      HOST: "127.0.0.1",
      BODY_SIZE_LIMIT: "1M",
      LOG_LEVEL: "warn",
      RD_DEMO_AGENT: "false",
      RD_DESK_POOL: "interview:1",
      RD_ADMIN_EMAIL: admin.email,
      RD_ADMIN_PASSWORD: admin.password,
      // The one product setting let through: the desk agents' log level, to see what a slow desk did.
      ...(process.env.RD_AGENT_LOG_LEVEL ? { RD_AGENT_LOG_LEVEL: process.env.RD_AGENT_LOG_LEVEL } : {}),
    },
    detached: true,
    stdio: ["ignore", "pipe", "pipe"],
  });
  // Warnings of the server and its desk agents, as they happen: they explain a slow or failed desk.
  for (const stream of [server.stdout!, server.stderr!]) {
    stream.setEncoding("utf8");
    stream.on("data", (text: string) => {
      for (const line of text.split("\n").filter(Boolean)) process.stderr.write(`[server] ${line}\n`);
    });
  }
  if (!(await waitForHttp(`${baseURL}/healthz`, server, 120_000))) {
    throw new Error("the dashboard did not start; see its output above");
  }
  return server;
}

/** SIGTERM to the server's process group (its desk host stops every desk), SIGKILL after 20 s. */
async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const signalGroup = (signal: NodeJS.Signals) => {
    try {
      process.kill(-server.pid!, signal);
    } catch {
      // already gone
    }
  };
  const exited = new Promise((resolve) => server.once("exit", resolve));
  signalGroup("SIGTERM");
  const force = setTimeout(() => signalGroup("SIGKILL"), 20_000);
  await exited;
  clearTimeout(force);
}

// ---- tRPC, from the admin's signed-in page ----------------------------------------------------------

/**
 * Calls a procedure the way the dashboard's client does (superjson: the input under `json`; a
 * mutation echoes the CSRF cookie in a header), from the signed-in page so its cookies go along.
 */
async function trpc<T>(
  page: Page,
  kind: "query" | "mutation",
  procedure: string,
  input: unknown,
): Promise<T> {
  const { status, text } = await page.evaluate(
    async ({ kind, procedure, input }) => {
      const body = JSON.stringify({ json: input });
      const csrf = decodeURIComponent(/(?:^|;\s*)rd_csrf=([^;]+)/.exec(document.cookie)?.[1] ?? "");
      const response =
        kind === "query"
          ? await fetch(`/api/trpc/${procedure}?input=${encodeURIComponent(body)}`)
          : await fetch(`/api/trpc/${procedure}`, {
              method: "POST",
              headers: { "content-type": "application/json", "x-csrf-token": csrf },
              body,
            });
      return { status: response.status, text: await response.text() };
    },
    { kind, procedure, input },
  );
  const answer = JSON.parse(text) as {
    result?: { data: { json: T } };
    error?: { json?: { message?: string }; message?: string };
  };
  if (!answer.result) {
    const why = answer.error?.json?.message ?? answer.error?.message ?? text.slice(0, 300);
    throw new Error(`${procedure} answered ${status}: ${why}`);
  }
  return answer.result.data.json;
}

interface CreatedDesk {
  id: string;
  /** The candidate's link. */
  url: string;
  /** Adopted from the warm pool: it was ready the moment it was created. */
  adopted: boolean;
}

/** Desks this run created and has not terminated: what the end (or Ctrl+C) terminates. */
const liveDesks = new Set<string>();

async function createDesk(page: Page, candidateLabel: string): Promise<CreatedDesk> {
  const created = await trpc<{ desk: { id: string; state: string }; token: string }>(
    page,
    "mutation",
    "desks.create",
    { candidateLabel, template: "interview", pin: false },
  );
  liveDesks.add(created.desk.id);
  return {
    id: created.desk.id,
    url: `${baseURL}/d/${created.token}`,
    adopted: created.desk.state === "ready",
  };
}

/** Ends a desk; one that ended already (it failed, say) is said, not thrown. */
async function terminateDesk(page: Page, id: string): Promise<void> {
  try {
    await trpc(page, "mutation", "desks.terminate", { id });
  } catch (error) {
    log(`  desk ${id.slice(0, 8)} was not terminated: ${(error as Error).message}`);
  }
  liveDesks.delete(id);
}

async function deskState(page: Page, id: string): Promise<string> {
  const desk = await trpc<{ state: string; stateReason: string | null }>(page, "query", "desks.byId", {
    id,
  });
  return desk.stateReason ? `${desk.state} (${desk.stateReason})` : desk.state;
}

async function warmDesks(page: Page): Promise<number> {
  return (await trpc<{ warm: number }>(page, "query", "desks.list", {})).warm;
}

/** Waits until the pool has a ready desk; false when it did not refill in time. */
async function waitForWarm(page: Page, timeoutMs = POOL_REFILL_TIMEOUT_MS): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if ((await warmDesks(page)) >= 1) return true;
    await sleep(250);
  }
  return false;
}

// ---- where a desk lives on this machine --------------------------------------------------------------

/** Where this dashboard's sandboxes live (apps/web/src/lib/server/desk-hosting.ts: named after DATA_DIR). */
function deskBaseDir(dataDir: string): string {
  const key = createHash("sha256").update(path.resolve(dataDir)).digest("hex").slice(0, 12);
  return path.join(os.tmpdir(), `rd-desks-${key}`);
}

/** Paths of a desk. */
function deskPlaces(dataDir: string, deskId: string) {
  return {
    /** The sandbox's state file: its init's host pid and its cgroup. */
    stateFile: path.join(deskBaseDir(dataDir), deskId, "desk.json"),
    /** The desk agent's config directory, removed last when the desk is torn down. */
    agentConfigDir: path.join(path.resolve(dataDir), "desks", deskId),
  };
}

async function waitForTeardown(dataDir: string, deskId: string): Promise<void> {
  const { stateFile, agentConfigDir } = deskPlaces(dataDir, deskId);
  const deadline = Date.now() + TEARDOWN_TIMEOUT_MS;
  while ((existsSync(agentConfigDir) || existsSync(stateFile)) && Date.now() < deadline) await sleep(100);
}

/** Terminates the desks and waits until their sandboxes and agents are gone. */
async function endDesks(page: Page, dataDir: string, ids: string[]): Promise<void> {
  for (const id of ids) await terminateDesk(page, id);
  for (const id of ids) await waitForTeardown(dataDir, id);
}

// ---- the candidate ---------------------------------------------------------------------------------------

interface Run {
  /** Link click → first frame, ms; null when no frame came. */
  ms: number | null;
  adopted: boolean;
  /** Where the time went, ms after the click: "page 420, first enter 700, desk ready 910 (1 enter), …". */
  phases: string;
  /** Why no frame came. */
  failure?: string;
}

/**
 * Page-side (installed with addInitScript, so self-contained): each state the viewer shows
 * (data-state), with when it first showed it, wall-clock ms.
 */
function installPhaseHooks() {
  const states: [string, number][] = [];
  (window as unknown as { __deskStates: typeof states }).__deskStates = states;
  new MutationObserver(() => {
    const state = document.querySelector("[data-testid=remote-viewer]")?.getAttribute("data-state");
    if (state && states.at(-1)?.[0] !== state)
      states.push([state, performance.timeOrigin + performance.now()]);
  }).observe(document, { childList: true, subtree: true, attributes: true, attributeFilter: ["data-state"] });
}

/** Milestones of one candidate page as it opens, wall-clock ms (0: not reached). */
function trackPhases(page: Page) {
  const seen = { loaded: 0, entering: 0, ready: 0, enters: 0, socket: 0 };
  page.once("domcontentloaded", () => (seen.loaded = Date.now()));
  page.on("request", (request) => {
    if (request.method() === "POST" && request.url().endsWith("/enter")) seen.entering ||= Date.now();
  });
  page.on("websocket", () => (seen.socket ||= Date.now()));
  page.on("response", (response) => {
    if (response.request().method() !== "POST" || !response.url().endsWith("/enter")) return;
    const at = Date.now();
    seen.enters++;
    void response.json().then(
      (body: { status?: string }) => {
        if (body.status === "ready") seen.ready ||= at;
      },
      () => {},
    );
  });
  return async (since: number): Promise<string> => {
    const states = await page
      .evaluate(() => (window as unknown as { __deskStates: [string, number][] }).__deskStates)
      .catch(() => []);
    const after = (at: number) => (at ? String(Math.round(at - since)) : "–");
    return [
      `page ${after(seen.loaded)}`,
      `first enter ${after(seen.entering)}`,
      `desk ready ${after(seen.ready)} (${plural(seen.enters, "enter")})`,
      `signaling ${after(seen.socket)}`,
      ...states.map(([state, at]) => `viewer ${state} ${after(at)}`),
    ].join(", ");
  };
}

/** What the candidate's page shows, for a run without a frame. */
async function pageSays(page: Page): Promise<string> {
  return page
    .evaluate(() => {
      const card = document.querySelector("[data-testid=candidate-page]");
      const viewer = document.querySelector("[data-testid=remote-viewer]");
      if (viewer)
        return `viewer ${viewer.getAttribute("data-state")}, video ${viewer.getAttribute("data-video")}`;
      return card ? `page ${card.getAttribute("data-view")}: ${card.textContent?.trim().slice(0, 120)}` : "?";
    })
    .catch(() => "?");
}

/**
 * A candidate opens the link in a browser of their own: link click (navigation start) → the first
 * decoded frame shown (page-hooks.ts: the viewer video's first requestVideoFrameCallback). The page
 * closes once the frame is there, so Chromium does not take the cores the desks need. A run without a
 * frame is recorded with what the page and the desk said, not thrown.
 */
async function timeCandidate(interviewer: Page, browser: Browser, desk: CreatedDesk): Promise<Run> {
  const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
  try {
    await context.addInitScript(installBenchHooks);
    await context.addInitScript(installPhaseHooks);
    const page = await context.newPage();
    const phases = trackPhases(page);
    const openedAt = Date.now();
    await page.goto(desk.url);
    const shown = await page
      .waitForFunction(() => window.__bench?.firstFrameAt || 0, null, { timeout: FIRST_FRAME_TIMEOUT_MS })
      .then((handle) => handle.jsonValue())
      .catch(() => null);
    const run = { adopted: desk.adopted, phases: await phases(openedAt) };
    if (shown !== null) return { ...run, ms: Math.round(shown - openedAt) };
    const failure =
      `desk ${desk.id.slice(0, 8)}: no frame within ${FIRST_FRAME_TIMEOUT_MS / 1000} s; ` +
      `${await pageSays(page)}; desk ${await deskState(interviewer, desk.id).catch(() => "?")}`;
    log(`  ${failure}`);
    return { ...run, ms: null, failure };
  } finally {
    await context.close();
  }
}

const brief = (run: Run) =>
  `${run.ms === null ? "no frame" : `${run.ms} ms`} (${run.adopted ? "warm" : "cold"})`;
const describe = (run: Run) => `${brief(run)}: ${run.phases}`;

async function measureWarm(page: Page, browser: Browser, dataDir: string, runs: Run[]): Promise<void> {
  for (let i = 1; i <= WARM; i++) {
    if (!(await waitForWarm(page)))
      log("  the warm pool did not refill within a minute: this run starts cold");
    const desk = await createDesk(page, `Warm ${i}`);
    runs.push(await timeCandidate(page, browser, desk));
    log(`warm ${i}/${WARM}: ${describe(runs.at(-1)!)}`);
    await endDesks(page, dataDir, [desk.id]);
  }
}

/**
 * The throwaway desk adopts the warm one; the measured desk, created right after, finds the pool
 * empty (its replacement takes seconds to start) and starts cold, beside the pool's replacement, as
 * an interviewer's second desk in a row does.
 */
async function measureCold(page: Page, browser: Browser, dataDir: string, runs: Run[]): Promise<void> {
  for (let i = 1; i <= COLD; i++) {
    await waitForWarm(page);
    const throwaway = await createDesk(page, `Throwaway ${i}`);
    const desk = await createDesk(page, `Cold ${i}`);
    runs.push(await timeCandidate(page, browser, desk));
    log(`cold ${i}/${COLD}: ${describe(runs.at(-1)!)}`);
    await endDesks(page, dataDir, [throwaway.id, desk.id]);
  }
}

/**
 * Adds desks one at a time, keeping them all running, until a new one's first frame takes over
 * DENSITY_LIMIT_MS (or none comes) or MAX_DESKS run. Each waits for the pool to refill first, so it
 * measures what load does to a normal (warm) start rather than back-to-back cold starts.
 */
async function measureDensity(page: Page, browser: Browser, runs: Run[]): Promise<string[]> {
  const ids: string[] = [];
  for (let n = 1; n <= MAX_DESKS; n++) {
    if (!(await waitForWarm(page)))
      log("  the warm pool did not refill within a minute: this desk starts cold");
    const desk = await createDesk(page, `Density ${n}`);
    ids.push(desk.id);
    runs.push(await timeCandidate(page, browser, desk));
    log(`density: desk ${n} of ${MAX_DESKS} at most: ${describe(runs.at(-1)!)}`);
    const last = runs.at(-1)!;
    if (last.ms === null || last.ms > DENSITY_LIMIT_MS) break;
  }
  return ids;
}

/** Desks added, never opened, until `ids` holds `wanted`; resolves once they all run. */
async function topUp(page: Page, ids: string[], wanted: number): Promise<void> {
  for (let n = ids.length + 1; n <= wanted; n++) ids.push((await createDesk(page, `Idle ${n}`)).id);
  const deadline = Date.now() + POOL_REFILL_TIMEOUT_MS;
  for (const id of ids) {
    while (!/^(ready|active)/.test(await deskState(page, id)) && Date.now() < deadline) await sleep(250);
  }
}

// ---- processes ---------------------------------------------------------------------------------------

function readProcs(): Map<number, Proc> {
  const procs = new Map<number, Proc>();
  for (const pid of allPids()) {
    const proc = readStat(pid);
    if (proc) procs.set(pid, proc);
  }
  return procs;
}

/** `roots` and every process below them. */
function withDescendants(roots: number[], procs: Map<number, Proc>): Set<number> {
  const children = new Map<number, number[]>();
  for (const proc of procs.values()) children.set(proc.ppid, [...(children.get(proc.ppid) ?? []), proc.pid]);
  const found = new Set<number>();
  const visit = (pid: number) => {
    if (found.has(pid) || !procs.has(pid)) return;
    found.add(pid);
    children.get(pid)?.forEach(visit);
  };
  roots.forEach(visit);
  return found;
}

/**
 * Processes by the desk agent config directory in their environment: the desk host starts each
 * agent (through its unshare wrapper) with RD_AGENT_CONFIG_DIR=<DATA_DIR>/desks/<deskId>.
 */
function agentRootsByConfigDir(): Map<string, number[]> {
  const roots = new Map<string, number[]>();
  for (const pid of allPids()) {
    let environ: string;
    try {
      environ = readFileSync(`/proc/${pid}/environ`, "utf8");
    } catch {
      continue;
    }
    const entry = environ.split("\0").find((e) => e.startsWith("RD_AGENT_CONFIG_DIR="));
    if (!entry) continue;
    const dir = entry.slice("RD_AGENT_CONFIG_DIR=".length);
    roots.set(dir, [...(roots.get(dir) ?? []), pid]);
  }
  return roots;
}

interface DeskState {
  pid?: number;
  cgroup?: { version: 1 | 2; dirs: Record<"memory" | "cpu" | "pids", string> };
}

function readDeskState(stateFile: string): DeskState {
  try {
    return JSON.parse(readFileSync(stateFile, "utf8")) as DeskState;
  } catch {
    return {};
  }
}

/** The sandbox's processes: its init's tree, and whatever else its cgroup holds (bubblewrap's). */
function sandboxPids(state: DeskState, procs: Map<number, Proc>): Set<number> {
  const inGroup = [...new Set(Object.values(state.cgroup?.dirs ?? {}))].flatMap((dir) => {
    try {
      return readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean).map(Number);
    } catch {
      return [];
    }
  });
  return withDescendants([...(state.pid ? [state.pid] : []), ...inGroup], procs);
}

/** The memory the desk's cgroup is charged (page cache and its tmpfs home and /tmp included). */
function cgroupBytes(state: DeskState): number | undefined {
  const dir = state.cgroup?.dirs.memory;
  if (!dir) return undefined;
  const file = state.cgroup!.version === 2 ? "memory.current" : "memory.usage_in_bytes";
  try {
    return Number(readFileSync(path.join(dir, file), "utf8").trim());
  } catch {
    return undefined;
  }
}

/** Processes whose smaps_rollup could not be read, their RSS standing in for their PSS. */
let pssFallbacks = 0;

/**
 * PSS (shared pages split among the processes that map them, so a desk is charged its share of
 * the node binary and the X libraries, not all of it) and RSS, in bytes.
 */
function memoryOf(pid: number): { pss: number; rss: number } {
  const kib = (text: string, key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(text)?.[1] ?? 0) * 1024;
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    return { pss: kib(rollup, "Pss"), rss: kib(rollup, "Rss") };
  } catch {
    try {
      const rss = kib(readFileSync(`/proc/${pid}/status`, "utf8"), "VmRSS");
      pssFallbacks++;
      return { pss: rss, rss };
    } catch {
      return { pss: 0, rss: 0 }; // exited meanwhile
    }
  }
}

/** Each desk's processes, sandbox and agent apart, with their CPU ticks so far. */
function snapshot(dataDir: string, deskIds: string[]) {
  const procs = readProcs();
  const agentRoots = agentRootsByConfigDir();
  return new Map(
    deskIds.map((id) => {
      const places = deskPlaces(dataDir, id);
      const state = readDeskState(places.stateFile);
      const sandbox = sandboxPids(state, procs);
      const agent = withDescendants(agentRoots.get(places.agentConfigDir) ?? [], procs);
      for (const pid of sandbox) agent.delete(pid);
      const ticks = (set: Set<number>) => new Map([...set].map((pid) => [pid, procs.get(pid)!]));
      const encoders = [...agent].filter((pid) => procs.get(pid)!.comm === "ffmpeg").length;
      return [id, { state, sandbox: ticks(sandbox), agent: ticks(agent), encoders }];
    }),
  );
}

interface IdleDesk {
  id: string;
  sandboxCores: number;
  agentCores: number;
  /** Of the agent's: children that ran and exited within the window (xmodmap's layout polls…). */
  agentExitedChildCores: number;
  sandboxPssMiB: number;
  agentPssMiB: number;
  rssMiB: number;
  cgroupMiB: number | undefined;
  processes: number;
  encoders: number;
}

const mib = (bytes: number) => bytes / MIB;

/** CPU over the window (ticks of processes that started meanwhile count whole), memory at its end. */
async function measureIdle(dataDir: string, deskIds: string[]): Promise<IdleDesk[]> {
  const before = snapshot(dataDir, deskIds);
  const startedAt = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const after = snapshot(dataDir, deskIds);
  const seconds = (performance.now() - startedAt) / 1000;
  return deskIds.map((id) => {
    const [was, now] = [before.get(id)!, after.get(id)!];
    const used = (then: Map<number, Proc>, later: Map<number, Proc>, of: "ticks" | "reapedTicks" = "ticks") =>
      [...later].reduce((sum, [pid, proc]) => sum + proc[of] - (then.get(pid)?.[of] ?? 0), 0) /
      TICKS_PER_SECOND /
      seconds;
    const memory = (set: Map<number, Proc>) =>
      [...set.keys()]
        .map(memoryOf)
        .reduce((a, m) => ({ pss: a.pss + m.pss, rss: a.rss + m.rss }), { pss: 0, rss: 0 });
    const [sandboxMemory, agentMemory] = [memory(now.sandbox), memory(now.agent)];
    const charged = cgroupBytes(now.state);
    return {
      id,
      sandboxCores: used(was.sandbox, now.sandbox),
      agentCores: used(was.agent, now.agent),
      agentExitedChildCores: used(was.agent, now.agent, "reapedTicks"),
      sandboxPssMiB: mib(sandboxMemory.pss),
      agentPssMiB: mib(agentMemory.pss),
      rssMiB: mib(sandboxMemory.rss + agentMemory.rss),
      cgroupMiB: charged === undefined ? undefined : mib(charged),
      processes: now.sandbox.size + now.agent.size,
      encoders: now.encoders,
    };
  });
}

// ---- report ------------------------------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

const fixed = (n: number | undefined, digits = 0) =>
  n !== undefined && Number.isFinite(n) ? n.toFixed(digits) : "–";

/** "p50 / p95 / max" (or "p50 / max") of `values`, `digits` decimals. */
function spread(values: number[], digits = 0, withP95 = true): string {
  const figures = [percentile(values, 50), ...(withP95 ? [percentile(values, 95)] : []), Math.max(...values)];
  return figures.map((n) => fixed(n, digits)).join(" / ");
}

function startRow(label: string, runs: Run[], target: number, warm: boolean): string {
  const times = runs.flatMap((r) => (r.ms === null ? [] : [r.ms]));
  const failed = runs.length - times.length;
  // A run whose desk did not start the way the row says (the pool was empty, or had refilled).
  const other = runs.filter((r) => r.adopted !== warm).length;
  const notes = [
    failed ? `${failed} without a frame` : "",
    other ? `${other} ${warm ? "started cold although a warm desk waited" : "adopted a warm desk"}` : "",
  ].filter(Boolean);
  return (
    `| link click → first frame, ${label} (${plural(runs.length, "run")}), p50 / p95 / max | ` +
    `${spread(times)} ms | ≤ ${target} ms | ${notes.join("; ")} |`
  );
}

function densityRow(runs: Run[]): string {
  const over = runs.findIndex((r) => r.ms === null || r.ms > DENSITY_LIMIT_MS);
  const [figure, note] =
    runs.length === 0
      ? ["–", ""]
      : over === -1
        ? [`≥ ${runs.length}`, "MAX_DESKS reached, none over 3 s"]
        : [String(over), `desk ${over + 1}: ${brief(runs[over]!)}`];
  return `| desks at once before a new desk's first frame > 3 s | ${figure} | (printed) | ${note} |`;
}

function idleRows(idle: IdleDesk[]): string[] {
  if (idle.length === 0) return ["| idle desk CPU / memory | – | | no desk ran |"];
  const cpu = idle.map((d) => d.sandboxCores + d.agentCores);
  const memory = idle.map((d) => d.sandboxPssMiB + d.agentPssMiB);
  const where = `${plural(idle.length, "desk")}, ${IDLE_SECONDS} s`;
  return [
    `| idle desk CPU per desk (${where}), p50 / max | ${spread(cpu, 3, false)} cores | ≤ ${IDLE_CPU_TARGET} core | |`,
    `| idle desk memory per desk (PSS), p50 / max | ${spread(memory, 0, false)} MiB | ≤ ${IDLE_MEMORY_TARGET_MIB} MiB | |`,
  ];
}

/** `viewed`: how many of the desks (the first ones) had a candidate's viewer before the window. */
function idleDetail(idle: IdleDesk[], viewed: number): string {
  const rows = idle.map(
    (d, i) =>
      `| ${i + 1}${i < viewed ? "" : " (never opened)"} | ${fixed(d.sandboxCores, 3)} | ` +
      `${fixed(d.agentCores, 3)} (${fixed(d.agentExitedChildCores, 3)}) | ${fixed(d.sandboxPssMiB)} | ` +
      `${fixed(d.agentPssMiB)} | ${fixed(d.rssMiB)} | ${fixed(d.cgroupMiB)} | ${d.processes} | ${d.encoders} |`,
  );
  return [
    "| desk | sandbox CPU, cores | agent CPU, cores (of it, children that exited) | sandbox PSS, MiB | " +
      "agent PSS, MiB | RSS (both), MiB | sandbox cgroup charge, MiB | processes | ffmpeg |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

/** Other work on the machine skews every figure here: the report says how busy it was. */
function loadAverage(): string {
  const [one, five] = os.loadavg();
  return `load average ${fixed(one, 2)} / ${fixed(five, 2)} (1 / 5 min)`;
}

function machine(): string {
  return (
    `machine: ${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? "?"}), ` +
    `${fixed(os.totalmem() / 1024 ** 3, 1)} GiB memory, Linux ${os.release()}; ${loadAverage()} at the start`
  );
}

// ---- main ----------------------------------------------------------------------------------------------

const dataDir = mkdtempSync(path.join(os.tmpdir(), "rd-bench-desks-"));
const startLoad = machine();
let server: ChildProcess | undefined;
let browser: Browser | undefined;
let adminPage: Page | undefined;

/** Desks whose directory (and cgroup) the stopped server left behind, which the bench then reaped. */
let leftBehind: string[] = [];

let stopping: Promise<void> | undefined;
/** Everything this run started goes, once, whether it ends, fails or is interrupted. */
function shutdown(): Promise<void> {
  stopping ??= (async () => {
    if (adminPage && liveDesks.size > 0) {
      log(`terminating ${liveDesks.size} desks…`);
      for (const id of [...liveDesks]) await terminateDesk(adminPage, id);
    }
    await browser?.close().catch(() => {});
    if (server) await stopServer(server);
    // The server should have removed every desk it ran; what it left, only this run's dashboard
    // could have made (the base directory is named after our DATA_DIR), so it is ours to remove.
    const baseDir = deskBaseDir(dataDir);
    leftBehind = await reapDeskSandboxes(baseDir, createLogger("silent", {})).catch(() => []);
    try {
      rmdirSync(baseDir);
    } catch {
      // Gone already, or a desk could not be reaped: its desk.json stays for the next reap.
    }
    rmSync(dataDir, { recursive: true, force: true });
  })();
  return stopping;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping everything…`);
    void shutdown().finally(() => process.exit(130));
  });
}

/** Filled as runs finish, so that a run that fails midway still reports what it measured. */
const results = { warm: [] as Run[], cold: [] as Run[], density: [] as Run[], idle: [] as IdleDesk[] };
let failure: unknown;
try {
  log(`starting the dashboard on ${baseURL} (warm pool interview:1)…`);
  server = await startServer(dataDir);
  // Our SIGINT handler closes the browser after it has terminated the desks through it.
  browser = await chromium.launch({ ...chromiumLaunchOptions, handleSIGINT: false, handleSIGTERM: false });
  const context = await browser.newContext({ baseURL });
  adminPage = await context.newPage();
  await signInAsAdmin(adminPage);
  log("waiting for the warm pool's first desk…");
  if (!(await waitForWarm(adminPage, 120_000))) throw new Error("the warm pool never had a ready desk");

  log(`warm: ${WARM} runs…`);
  await measureWarm(adminPage, browser, dataDir, results.warm);
  log(`cold: ${COLD} runs…`);
  await measureCold(adminPage, browser, dataDir, results.cold);
  log(`density: up to ${MAX_DESKS} desks…`);
  const ids = await measureDensity(adminPage, browser, results.density);
  await topUp(adminPage, ids, IDLE_DESKS);
  log(
    `idle: ${plural(ids.length, "desk")}, nobody watching, ${IDLE_SETTLE_MS / 1000} s to settle, then ${IDLE_SECONDS} s…`,
  );
  await sleep(IDLE_SETTLE_MS);
  results.idle = await measureIdle(dataDir, ids);
  await endDesks(adminPage, dataDir, ids);
} catch (error) {
  failure = error;
} finally {
  await shutdown();
}

const { warm, cold, density, idle } = results;
const list = (runs: Run[]) => runs.map((run, i) => `\n  ${i + 1}. ${describe(run)}`).join("") || " –";
const failures = [...warm, ...cold, ...density].flatMap((r) => (r.failure ? [`failed: ${r.failure}`] : []));
console.log(
  [
    "",
    `bench:desks — ${startLoad}; ${loadAverage()} at the end`,
    "| measure | figure | target | notes |",
    "|---|---|---|---|",
    startRow("warm pool", warm, WARM_TARGET_MS, true),
    startRow("cold", cold, COLD_TARGET_MS, false),
    densityRow(density),
    ...idleRows(idle),
    "",
    "Each run: link click → first frame, and when (ms after the click) the candidate page loaded, it",
    "sent its first enter, an enter said the desk was ready, the signaling socket opened, and the",
    "viewer showed each of its states.",
    `warm runs:${list(warm)}`,
    `cold runs:${list(cold)}`,
    `density, each new desk with the desks before it still running (plus the pool's warm one):${list(density)}`,
    ...failures,
    `Idle desks (their candidates' pages closed, then ${IDLE_SETTLE_MS / 1000} s before the window):`,
    idle.length ? idleDetail(idle, density.length) : "–",
    ...(leftBehind.length
      ? [
          `After the server stopped (SIGTERM), desks kept their directory and cgroup: ` +
            `${leftBehind.map((id) => id.slice(0, 8)).join(", ")}; the bench removed them.`,
        ]
      : []),
    "CPU: utime + stime of the sandbox's processes (its init's tree and its cgroup) and of its agent's",
    "process tree (unshare wrapper, node, encoders). Memory: PSS" +
      (pssFallbacks ? ` (RSS for ${pssFallbacks} processes whose smaps_rollup was unreadable)` : "") +
      "; the cgroup charge also counts page cache and the desk's tmpfs.",
    '"link click" is the candidate page\'s navigation start (page.goto); "first frame" the viewer\'s',
    "first decoded video frame shown (requestVideoFrameCallback).",
  ].join("\n"),
);
if (failure) {
  log(`stopped early: ${(failure as Error).stack ?? String(failure)}`);
  process.exitCode = 1;
}
