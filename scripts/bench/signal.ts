/**
 * `npm run bench:signal`: the signaling worker under 1,000 concurrent sessions (2,000 sockets), next
 * to a bare `ws` relay measured in the same run. Prints relay latency (p50/p99) at 5 msg/s per
 * session, saturated throughput (messages/s), and memory per idle connection; then the same with two
 * workers over Redis (agents on one, viewers on the other). Prints figures; asserts nothing.
 *
 * Needs the local Postgres (the worker runs as its own process); uses Redis when it answers.
 * SESSIONS and SECONDS environment variables scale it down for a quick look.
 */
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import path from "node:path";
import { setFlagsFromString } from "node:v8";
import { importTicketKey, signTicket } from "@rd/auth/tickets";
import { Agents, joinSession, RemoteSessions, Tenants, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import WebSocket from "ws";

const SESSIONS = Number(process.env.SESSIONS ?? 1000);
const SECONDS = Number(process.env.SECONDS ?? 15);
const RATE_PER_SESSION = 5;
const IN_FLIGHT = 4; // closed-loop window per session when saturating
const WARM_UP_MS = 2000;
const SECRET = "bench-secret-0123456789abcdef0123456789";
const root = path.resolve(import.meta.dirname, "../..");

type Pair = { agent: WebSocket; viewer: WebSocket; sessionId: string; participantId: string };

// Like `npm test`: the machine's Postgres and Redis on their standard ports unless told otherwise.
process.env.TEST_DATABASE_URL ??= "postgres://postgres@127.0.0.1:5432/test";
process.env.REDIS_URL ??= "redis://127.0.0.1:6379";
const postgres = testDatabases().find((d) => d.name === "postgres");
if (!postgres) {
  console.error(
    "bench:signal needs Postgres: set TEST_DATABASE_URL (e.g. postgres://postgres@127.0.0.1:5432/test).",
  );
  process.exit(2);
}

function rssKiB(pid: number): number {
  const match = readFileSync(`/proc/${pid}/status`, "utf8").match(/VmRSS:\s+(\d+)/);
  return Number(match?.[1] ?? 0);
}

function percentile(sorted: number[], p: number) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

/**
 * Servers under test get core 1 to themselves and the load generator (this process) core 0, so the
 * baseline and the worker are measured on equal terms instead of fighting the load generator.
 */
const PIN =
  process.env.BENCH_PIN !== "false" && existsSync("/usr/bin/taskset") && availableParallelism() >= 2;
if (PIN) {
  spawnSync("taskset", ["-cp", "0", String(process.pid)], { stdio: "ignore" });
  // On its one core, V8's parallel GC helpers would only stretch the load generator's own pauses,
  // which the latency figures would then blame on the server under test.
  setFlagsFromString("--single-threaded-gc");
}

async function startProcess(
  script: string,
  env: Record<string, string>,
  healthUrl: string,
): Promise<ChildProcess> {
  // taskset execs the command, so the child's pid is the server's own.
  // BENCH_NODE_FLAGS (e.g. "--cpu-prof --trace-gc") go to the servers under test only.
  const node = [process.execPath, ...(process.env.BENCH_NODE_FLAGS?.split(" ").filter(Boolean) ?? [])];
  const [command, args] = PIN
    ? ["taskset", ["-c", "1", ...node, path.join(root, script)]]
    : [node[0]!, [...node.slice(1), path.join(root, script)]];
  const child = spawn(command as string, args as string[], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ["ignore", process.env.BENCH_NODE_FLAGS ? "inherit" : "ignore", "inherit"],
  });
  for (let i = 0; i < 300; i++) {
    try {
      await fetch(healthUrl);
      return child;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`${script} did not start`);
}

function open(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

function nextMessage(
  ws: WebSocket,
  type: string,
  match: (m: Record<string, unknown>) => boolean = () => true,
): Promise<unknown> {
  return new Promise((resolve) => {
    const onMessage = (data: WebSocket.RawData) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === "heartbeat/ping") ws.send(JSON.stringify({ type: "heartbeat/pong", t: 0 }));
      if (message.type === type && match(message)) {
        ws.off("message", onMessage);
        resolve(message);
      }
    };
    ws.on("message", onMessage);
  });
}

/** Runs `task` over `items` with at most `limit` at a time. */
async function pooled<T, R>(
  items: T[],
  limit: number,
  task: (item: T, i: number) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await task(items[i]!, i);
      }
    }),
  );
  return results;
}

/** The load: each agent sends ICE-shaped frames to its viewer; the viewer timestamps arrivals. */
function payload(sessionId: string, participantId: string, seq: number) {
  return JSON.stringify({
    type: "signal/ice",
    sessionId,
    participantId,
    candidate: {
      candidate: `candidate:${seq} 1 udp 2122260223 192.0.2.1 ${process.hrtime.bigint()} typ host`,
      sdpMid: "0",
    },
  });
}

function sentAt(frame: string): bigint {
  return BigInt(/ (\d+) typ host/.exec(frame)![1]!);
}

/** Answers the worker's heartbeats, as real clients do (a silent peer is closed as dead). */
function answerPings(ws: WebSocket) {
  ws.on("message", (data) => {
    const text = String(data);
    if (text.startsWith('{"type":"heartbeat/ping"'))
      ws.send(text.replace("heartbeat/ping", "heartbeat/pong"));
  });
}

async function measure(pairs: Pair[], pid: number[]) {
  // 1. Latency at a fixed, realistic rate: open loop, 5 msg/s per session, spread over the second.
  // Samples count after a warm-up (the senders' ramp and the JIT's first compiles), as for any
  // steady-state figure; the baseline gets the same.
  const latencies: number[] = [];
  let recording = false;
  for (const p of pairs) {
    p.viewer.removeAllListeners("message");
    answerPings(p.viewer);
    p.viewer.on("message", (data) => {
      const text = String(data);
      if (recording && text.includes("typ host"))
        latencies.push(Number(process.hrtime.bigint() - sentAt(text)) / 1e6);
    });
  }
  const timers = pairs.map((p, i) => {
    let seq = 0;
    const start = setTimeout(() => {
      timers[i] = setInterval(
        () => p.agent.send(payload(p.sessionId, p.participantId, seq++)),
        1000 / RATE_PER_SESSION,
      ) as never;
    }, Math.random() * 1000);
    return start as unknown as ReturnType<typeof setInterval>;
  });
  await new Promise((r) => setTimeout(r, WARM_UP_MS));
  recording = true;
  const cpuBefore = pid.map(cpuTicks);
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const cpuAfter = pid.map(cpuTicks);
  timers.forEach((t) => (clearTimeout(t), clearInterval(t)));
  await new Promise((r) => setTimeout(r, 500));
  latencies.sort((a, b) => a - b);
  const offered = pairs.length * RATE_PER_SESSION;
  const cpu = cpuAfter.reduce((s, v, i) => s + v - cpuBefore[i]!, 0) / 100 / SECONDS;

  // 2. Throughput: closed loop, IN_FLIGHT frames per session, for SECONDS / 2.
  let delivered = 0;
  let running = true;
  for (const p of pairs) {
    let seq = 0;
    p.viewer.removeAllListeners("message");
    answerPings(p.viewer);
    p.viewer.on("message", (data) => {
      if (!String(data).includes("typ host")) return;
      delivered++;
      if (running) p.agent.send(payload(p.sessionId, p.participantId, seq++));
    });
    for (let k = 0; k < IN_FLIGHT; k++) p.agent.send(payload(p.sessionId, p.participantId, seq++));
  }
  const window = (SECONDS / 2) * 1000;
  await new Promise((r) => setTimeout(r, WARM_UP_MS));
  delivered = 0;
  await new Promise((r) => setTimeout(r, window));
  running = false;
  const throughput = delivered / (window / 1000);
  await new Promise((r) => setTimeout(r, 500));
  return {
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    samples: latencies.length,
    offered,
    throughput,
    serverCpuCores: cpu,
  };
}

function cpuTicks(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime, in clock ticks (100/s)
}

async function seed() {
  const db = await postgres!.create();
  const [tenant] = await db.db.insert(Tenants).values({ name: "bench" }).returning();
  // One technician per session: the worker caps open sessions per user.
  const techs = await db.db
    .insert(Users)
    .values(
      Array.from({ length: SESSIONS }, (_, i) => ({
        tenantId: tenant!.id,
        email: `bench-${i}@example.com`,
        name: `Bench ${i}`,
        role: "technician" as const,
        passwordHash: "x",
      })),
    )
    .returning({ id: Users.id });
  const secrets = Array.from({ length: SESSIONS }, () => randomBytes(32).toString("base64url"));
  const agents = await db.db
    .insert(Agents)
    .values(
      secrets.map((secret, i) => ({
        tenantId: tenant!.id,
        name: `bench-${i}`,
        hostname: `bench-${i}`,
        os: "linux",
        version: "bench",
        credentialHash: createHash("sha256").update(secret).digest("hex"),
      })),
    )
    .returning({ id: Agents.id });
  return {
    db,
    tenantId: tenant!.id,
    techIds: techs.map((t) => t.id),
    agents: agents.map((a, i) => ({ agentId: a.id, secret: secrets[i]! })),
  };
}

async function connectSessions(
  s: Awaited<ReturnType<typeof seed>>,
  agentUrl: string,
  viewerUrl: string,
): Promise<Pair[]> {
  const key = await importTicketKey(SECRET);
  const agentSockets = await pooled(s.agents, 50, async (agent) => {
    const ws = await open(agentUrl);
    const welcome = nextMessage(ws, "presence/welcome");
    ws.send(JSON.stringify({ type: "presence/hello", v: 1, auth: { kind: "agent", ...agent } }));
    await welcome;
    return ws;
  });
  const sessions = await s.db.db
    .insert(RemoteSessions)
    .values(
      s.agents.map((a, i) => ({ tenantId: s.tenantId, agentId: a.agentId, technicianId: s.techIds[i]! })),
    )
    .returning({ id: RemoteSessions.id });
  return pooled(sessions, 50, async ({ id }, i) => {
    const agent = agentSockets[i]!;
    const participant = await joinSession(s.db.db, {
      tenantId: s.tenantId,
      sessionId: id,
      userId: s.techIds[i]!,
      actor: { type: "system" },
      opener: true,
    });
    const request = nextMessage(agent, "session/request");
    const viewer = await open(viewerUrl);

    const { ticket } = await signTicket(key, {
      sid: id,
      tid: s.tenantId,
      uid: s.techIds[i]!,
      pid: participant.id,
      role: "technician",
      name: "Bench",
      email: "b@x",
    });
    const active = nextMessage(viewer, "session/state", (m) => m.status === "active");
    viewer.send(JSON.stringify({ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket } }));
    await request;
    agent.send(JSON.stringify({ type: "session/accept", sessionId: id }));
    await active;
    answerPings(agent);
    return { agent, viewer, sessionId: id, participantId: participant.id };
  });
}

async function bareRelayPairs(url: string): Promise<Pair[]> {
  return pooled(
    Array.from({ length: SESSIONS }, (_, i) => i),
    50,
    async (i) => ({
      agent: await open(`${url}?pair=${i}`),
      viewer: await open(`${url}?pair=${i}`),
      sessionId: `${i}`,
      participantId: `${i}`,
    }),
  );
}

function closeAll(pairs: Pair[]) {
  for (const p of pairs) {
    p.agent.terminate();
    p.viewer.terminate();
  }
}

const fmt = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : "n/a");

async function runSignal(label: string, workers: number, redisUrl?: string) {
  const s = await seed();
  const children: ChildProcess[] = [];
  const urls: string[] = [];
  for (let w = 0; w < workers; w++) {
    const port = 8790 + w;
    const env: Record<string, string> = {
      SIGNAL_PORT: String(port),
      SIGNAL_HOST: "127.0.0.1",
      DATABASE_URL: (s.db as { url?: string }).url!,
      RD_SECRET: SECRET,
      LOG_LEVEL: "warn",
      SIGNAL_MESSAGES_PER_SECOND: "100000",
      // Explicitly empty otherwise: the worker would inherit this process's REDIS_URL.
      REDIS_URL: redisUrl ?? "",
    };
    children.push(await startProcess("apps/signal/src/node.ts", env, `http://127.0.0.1:${port}/healthz`));
    urls.push(`ws://127.0.0.1:${port}/ws`);
  }
  const pids = children.map((c) => c.pid!);
  const idleBefore = pids.map(rssKiB);
  const pairs = await connectSessions(s, urls[0]!, urls[workers - 1]!);
  await new Promise((r) => setTimeout(r, 2000));
  const idleAfter = pids.map(rssKiB);
  const perConnectionKiB = idleAfter.reduce((t, v, i) => t + v - idleBefore[i]!, 0) / (SESSIONS * 2);
  const result = await measure(pairs, pids);
  closeAll(pairs);
  // SIGTERM lets a worker exit cleanly (and write a --cpu-prof profile when asked for one).
  await Promise.all(children.map((c) => new Promise((r) => (c.once("exit", r), c.kill("SIGTERM")))));
  await s.db.close();
  return { label, ...result, perConnectionKiB };
}

async function runBaseline() {
  const child = await startProcess("scripts/bench/bare-relay.ts", { PORT: "8799" }, "http://127.0.0.1:8799/");
  const pairs = await bareRelayPairs("ws://127.0.0.1:8799/");
  const result = await measure(pairs, [child.pid!]);
  closeAll(pairs);
  child.kill("SIGKILL");
  return { label: "bare ws relay (baseline)", ...result, perConnectionKiB: NaN };
}

function skippedBaseline() {
  const none = { p50: NaN, p99: NaN, samples: 0, offered: 0, throughput: NaN, serverCpuCores: NaN };
  return { label: "bare ws relay (skipped)", ...none, perConnectionKiB: NaN };
}

console.log(
  `bench:signal — ${SESSIONS} sessions (${SESSIONS * 2} sockets), ${SECONDS} s per phase, ${RATE_PER_SESSION} msg/s per session` +
    (PIN ? "; servers pinned to core 1, load generator to core 0" : ""),
);
// BENCH_SKIP=baseline,redis leaves setups out for a quicker look (ratios then read n/a).
const skip = new Set((process.env.BENCH_SKIP ?? "").split(","));
const rows = [
  skip.has("baseline") ? skippedBaseline() : await runBaseline(),
  await runSignal("signal, 1 Node worker, in-process bus", 1),
];
if (skip.has("redis")) console.log("(BENCH_SKIP: skipping the two-worker Redis run)");
else if (process.env.REDIS_URL)
  rows.push(await runSignal("signal, 2 Node workers over Redis", 2, process.env.REDIS_URL));
else console.log("(REDIS_URL not set: skipping the two-worker Redis run)");

const baseline = rows[0]!;
console.log("");
console.log(
  "| setup | p50 ms | p99 ms | samples | msgs/s (saturated) | vs baseline | server CPU (cores) at 5 msg/s | KiB per idle conn |",
);
console.log("|---|---|---|---|---|---|---|---|");
for (const r of rows) {
  console.log(
    `| ${r.label} | ${fmt(r.p50)} | ${fmt(r.p99)} | ${r.samples} | ${Math.round(r.throughput)} | ${fmt((r.throughput / baseline.throughput) * 100, 0)} % | ${fmt(r.serverCpuCores)} | ${fmt(r.perConnectionKiB, 1)} |`,
  );
}
console.log(
  "\nTargets: throughput ≥ 70 % of the baseline; p99 ≤ 10 ms at 1,000 sessions × 5 msg/s; ≤ 64 KiB per idle connection.",
);
process.exit(0);
