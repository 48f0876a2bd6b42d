/**
 * Fault tolerance with Redis: the agent sits on worker A (a real process), the viewer on worker B.
 * Killing A with SIGKILL (no goodbye of any kind) must end the session for the viewer promptly, with
 * the agent_offline reason, while B keeps serving.
 */
import { RemoteSessions } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { startNodeSignal, type NodeSignal } from "./node.ts";
import { TestClient } from "./testing/client.ts";
import { seed, spawnWorker, TEST_SECRET, TEST_TUNING } from "./testing/deployments.ts";

const postgres = testDatabases().find((d) => d.name === "postgres");
const redisUrl = process.env.REDIS_URL;

describe.skipIf(!postgres || !redisUrl)("a worker dies mid-session (Redis)", () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  it("tells the viewer on the surviving worker within seconds", async () => {
    const db = await postgres!.create();
    cleanup.push(() => db.close());
    const s = await seed(db);
    const a = await spawnWorker("node", db.url!, { REDIS_URL: redisUrl! });
    cleanup.push(() => void a.child.kill("SIGKILL"));
    const b: NodeSignal = await startNodeSignal({
      env: { RD_SECRET: TEST_SECRET, LOG_LEVEL: "warn", REDIS_URL: redisUrl! },
      database: db,
      tuning: TEST_TUNING,
      port: 0,
      workerId: "survivor",
    });
    cleanup.push(() => b.close());

    const agent = await TestClient.open(a.url);
    agent.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...s.agentA } });
    await agent.next("presence/welcome");
    const { sessionId, ticket } = await s.openSession(s.techA, s.agentA.agentId);
    const viewer = await TestClient.open(`ws://127.0.0.1:${b.port}/ws`);
    viewer.send({ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket } });
    await agent.next("session/request");
    agent.send({ type: "session/accept", sessionId });
    await viewer.next("session/state", (m) => m.status === "active");
    // Alive and well across several worker heartbeats: no false "dead worker" verdict.
    await new Promise((r) => setTimeout(r, 2 * TEST_TUNING.workerDeadAfterMs!));
    expect(viewer.closed).toBeUndefined();
    agent.send({ type: "signal/offer", sessionId, sdp: "v=0 across workers" });
    expect(await viewer.next("signal/offer")).toMatchObject({ sdp: "v=0 across workers" });

    const killedAt = Date.now();
    a.child.kill("SIGKILL");
    const state = await viewer.next("session/state", (m) => m.status === "ended", 10_000);
    const detectedMs = Date.now() - killedAt;
    expect(state).toMatchObject({ sessionId, reason: "agent_offline" });
    expect(await agent.closedWith()).toMatchObject({ code: 1006 });
    const [row] = await db.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, sessionId));
    expect(row).toMatchObject({ status: "ended", endReason: "agent_offline" });
    // Printed, not asserted: timings belong to benchmarks, not tests.
    console.log(`viewer learned of the dead worker after ${detectedMs} ms`);
    expect((await fetch(`http://127.0.0.1:${b.port}/healthz`)).status).toBe(200);
  }, 60_000);
});
