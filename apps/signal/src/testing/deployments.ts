/**
 * The deployments the contract suite runs against, all real: workers, database, Redis, Deno.
 * - node: one Node worker, in-process bus.
 * - node×2+redis: two Node workers sharing a Redis bus; the agent and the viewer use different ones.
 * - deno: the worker running under Deno (a subprocess), against the test Postgres.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { createServer } from "node:net";
import path from "node:path";
import { createCaller, createEnrollmentCode, enrollAgent } from "@rd/api";
import { authUserOf, createAuth, createSecretBox, hashPassword, type AuthUser } from "@rd/auth";
import { importTicketKey } from "@rd/auth/tickets";
import { type DbHandle, Tenants, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import type { SignalTuning } from "../config.ts";
import { startNodeSignal, type NodeSignal } from "../node.ts";

export const TEST_SECRET = "signal-test-secret-0123456789abcdef0123";
/** What monitoring presents to read the counts on /healthz (SIGNAL_METRICS_TOKEN). */
export const TEST_METRICS_TOKEN = "signal-test-metrics-token-0123456789";

/** A TURN relay every test worker issues credentials for (none runs: the contract checks the credentials). */
export const TEST_TURN = {
  secret: "signal-test-turn-secret-0123456789",
  url: "turn:127.0.0.1:3478?transport=udp",
};

/** Short timers so presence, heartbeats and failure detection happen within a test's patience. */
export const TEST_TUNING = {
  heartbeatMs: 1_000,
  presenceRefreshMs: 1_000,
  helloTimeoutMs: 1_000,
  offlineGraceMs: 300,
  resumeGraceMs: 1_000,
  // Low enough to reach in a test; every test here says hello at once, a few sockets at a time.
  maxUnauthenticatedPerIp: 16,
} satisfies Partial<SignalTuning>;

const root = path.resolve(import.meta.dirname, "../../../..");

export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, child?: ChildProcess, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`worker exited with ${child.exitCode}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} did not answer within ${timeoutMs} ms`);
}

/** Starts the signaling worker as a child process (Node or Deno) against a real Postgres. */
export async function spawnWorker(
  runtime: "node" | "deno",
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
  port?: number,
) {
  port ??= await freePort();
  const env = {
    ...process.env,
    SIGNAL_PORT: String(port),
    SIGNAL_HOST: "127.0.0.1",
    DATABASE_URL: databaseUrl,
    RD_SECRET: TEST_SECRET,
    LOG_LEVEL: "warn",
    SIGNAL_HEARTBEAT_MS: String(TEST_TUNING.heartbeatMs),
    SIGNAL_OFFLINE_GRACE_MS: String(TEST_TUNING.offlineGraceMs),
    SIGNAL_HELLO_TIMEOUT_MS: String(TEST_TUNING.helloTimeoutMs),
    SIGNAL_RESUME_GRACE_MS: String(TEST_TUNING.resumeGraceMs),
    SIGNAL_MAX_UNAUTHENTICATED_PER_IP: String(TEST_TUNING.maxUnauthenticatedPerIp),
    SIGNAL_METRICS_TOKEN: TEST_METRICS_TOKEN,
    RD_TURN_SECRET: TEST_TURN.secret,
    RD_TURN_URLS: TEST_TURN.url,
    ...extraEnv,
  };
  const command =
    runtime === "node"
      ? [process.execPath, [path.join(root, "apps/signal/src/node.ts")]]
      : [
          path.join(root, "node_modules/.bin/deno"),
          ["run", "-A", "--quiet", path.join(root, "apps/signal/src/deno.ts")],
        ];
  const child = spawn(command[0] as string, command[1] as string[], {
    cwd: root,
    env,
    stdio: ["ignore", "inherit", "inherit"],
  });
  await waitForHealth(`http://127.0.0.1:${port}/healthz`, child);
  return { url: `ws://127.0.0.1:${port}/ws`, port, child };
}

export interface Seed {
  db: DbHandle;
  tenantA: string;
  tenantB: string;
  techA: AuthUser;
  techB: AuthUser;
  /** A second technician and an admin of tenant A, to join sessions. */
  techA2: AuthUser;
  adminA: AuthUser;
  agentA: { agentId: string; secret: string };
  agentA2: { agentId: string; secret: string };
  agentB: { agentId: string; secret: string };
  /** Opens a session as a technician through the real API; returns its id, the owner's participation and a ticket. */
  openSession(
    tech: AuthUser,
    agentId: string,
  ): Promise<{ sessionId: string; participantId: string; ticket: string }>;
  /** The real API acting as `user` (join, ticket, end, remove, deactivate…). */
  api(user: AuthUser): ReturnType<typeof createCaller>;
  /** A fresh agent of tenant A (for tests that remove it). */
  newAgent(name: string): Promise<{ agentId: string; secret: string }>;
  /** A fresh technician of tenant A (for tests that deactivate them). */
  newUser(email: string): Promise<AuthUser>;
  /** A tenant of its own with a technician and an agent (for tests that read its whole audit trail). */
  newTenant(): Promise<{ tenantId: string; tech: AuthUser; agent: { agentId: string; secret: string } }>;
  ticketKey: CryptoKey;
}

export async function seed(db: DbHandle): Promise<Seed> {
  const ticketKey = await importTicketKey(TEST_SECRET);
  const auth = createAuth(db.db, { secureCookies: false });
  const secretBox = createSecretBox(TEST_SECRET, "totp");
  const passwordHash = await hashPassword("irrelevant-password");
  const [a, b] = await db.db
    .insert(Tenants)
    .values([{ name: "A" }, { name: "B" }])
    .returning();
  const user = async (
    tenantId: string,
    email: string,
    role: "technician" | "admin" = "technician",
  ): Promise<AuthUser> => {
    const [u] = await db.db
      .insert(Users)
      .values({ tenantId, email, name: email, role, passwordHash })
      .returning();
    return authUserOf(u!);
  };
  const techA = await user(a!.id, "tech-a@example.com");
  const techA2 = await user(a!.id, "tech-a2@example.com");
  const adminA = await user(a!.id, "admin-a@example.com", "admin");
  const techB = await user(b!.id, "tech-b@example.com");
  const api = (u: AuthUser) => createCaller({ db: db.db, auth, user: u, ticketKey, secretBox });
  const agent = async (tenantId: string, createdBy: string, name: string) => {
    const { code } = await createEnrollmentCode(db.db, { tenantId, createdBy, expiresInMinutes: 5 });
    const result = await enrollAgent(db.db, code, { name, hostname: name, os: "linux", version: "test" });
    if (!result.ok) throw new Error(result.message);
    return { agentId: result.agentId, secret: result.secret };
  };
  return {
    db,
    tenantA: a!.id,
    tenantB: b!.id,
    techA,
    techB,
    techA2,
    adminA,
    api,
    newAgent: (name) => agent(a!.id, adminA.id, name),
    newUser: (email) => user(a!.id, email),
    async newTenant() {
      const id = crypto.randomUUID().slice(0, 8);
      const [tenant] = await db.db
        .insert(Tenants)
        .values({ name: `T-${id}` })
        .returning();
      const tech = await user(tenant!.id, `tech-${id}@example.com`);
      return { tenantId: tenant!.id, tech, agent: await agent(tenant!.id, tech.id, `agent-${id}`) };
    },
    agentA: await agent(a!.id, techA.id, "agent-a"),
    agentA2: await agent(a!.id, techA.id, "agent-a2"),
    agentB: await agent(b!.id, techB.id, "agent-b"),
    ticketKey,
    async openSession(tech, agentId) {
      const { session, participantId, ticket } = await api(tech).sessions.create({ agentId });
      return { sessionId: session.id, participantId, ticket };
    },
  };
}

export interface Deployment {
  seed: Seed;
  /** Where agents connect, and where viewers connect (different workers in the Redis deployment). */
  agentUrl: string;
  viewerUrl: string;
  close(): Promise<void>;
}

export interface DeploymentKind {
  name: string;
  create(): Promise<Deployment>;
}

function nodeWorkers(count: number, redisUrl?: string): DeploymentKind["create"] {
  return async () => {
    const backend = redisUrl
      ? (testDatabases().find((d) => d.name === "postgres") ?? testDatabases()[0]!)
      : testDatabases()[0]!;
    const db = await backend.create();
    const env = {
      RD_SECRET: TEST_SECRET,
      LOG_LEVEL: "warn",
      SIGNAL_METRICS_TOKEN: TEST_METRICS_TOKEN,
      RD_TURN_SECRET: TEST_TURN.secret,
      RD_TURN_URLS: TEST_TURN.url,
      ...(redisUrl ? { REDIS_URL: redisUrl } : {}),
    };
    const signals: NodeSignal[] = [];
    for (let i = 0; i < count; i++) {
      signals.push(
        await startNodeSignal({ env, database: db, tuning: TEST_TUNING, port: 0, workerId: `w${i}` }),
      );
    }
    const url = (s: NodeSignal) => `ws://127.0.0.1:${s.port}/ws`;
    return {
      seed: await seed(db),
      agentUrl: url(signals[0]!),
      viewerUrl: url(signals[count - 1]!),
      async close() {
        for (const s of signals) await s.close();
        await db.close();
      },
    };
  };
}

/** The deployments available on this machine: Redis and Deno need their services. */
export function deployments(): DeploymentKind[] {
  const kinds: DeploymentKind[] = [{ name: "node", create: nodeWorkers(1) }];
  if (process.env.REDIS_URL)
    kinds.push({ name: "node×2+redis", create: nodeWorkers(2, process.env.REDIS_URL) });
  const postgres = testDatabases().find((d) => d.name === "postgres");
  if (postgres) {
    kinds.push({
      name: "deno",
      async create() {
        const db = await postgres.create();
        const worker = await spawnWorker("deno", db.url!);
        return {
          seed: await seed(db),
          agentUrl: worker.url,
          viewerUrl: worker.url,
          async close() {
            worker.child.kill("SIGTERM");
            await new Promise((r) => worker.child.once("exit", r));
            await db.close();
          },
        };
      },
    });
  }
  return kinds;
}
