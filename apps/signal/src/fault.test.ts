/**
 * A signaling worker dies mid-session (SIGKILL: no goodbye of any kind) and is started again on the
 * same address, as a deploy or a crash-and-restart would. The session is peer to peer and must not
 * notice: the agent and the viewer reconnect with their credentials and carry on, and the timeline
 * records the gap. When the agent does not come back, the session ends as `interrupted` once the
 * grace period is over; it is never left active with nobody in it.
 */
import { RemoteSessions, SessionEvents } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { asc, eq } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { TestClient } from "./testing/client.ts";
import { freePort, seed, type Seed, spawnWorker } from "./testing/deployments.ts";

const postgres = testDatabases().find((d) => d.name === "postgres");

describe.skipIf(!postgres)("a worker dies mid-session and comes back", () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
  });

  async function setUp() {
    const db = await postgres!.create();
    cleanup.push(() => db.close());
    const s = await seed(db);
    const port = await freePort();
    const first = await spawnWorker("node", db.url!, {}, port);
    cleanup.push(() => void first.child.kill("SIGKILL"));
    const agent = await TestClient.open(first.url);
    agent.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...s.agentA } });
    await agent.next("presence/welcome");
    const { sessionId, participantId, ticket } = await s.openSession(s.techA, s.agentA.agentId);
    const viewer = await TestClient.open(first.url);
    viewer.send({ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket }, peer: "the-one-page" });
    await agent.next("session/request");
    agent.send({ type: "session/accept", sessionId });
    await viewer.next("session/state", (m) => m.status === "active");
    return { db, s, port, first, agent, viewer, sessionId, participantId };
  }

  async function restart(dbUrl: string, port: number) {
    const worker = await spawnWorker("node", dbUrl, {}, port);
    cleanup.push(() => void worker.child.kill("SIGKILL"));
    return worker;
  }

  const events = async (s: Seed, sessionId: string) =>
    (
      await s.db.db
        .select({ type: SessionEvents.type, data: SessionEvents.data })
        .from(SessionEvents)
        .where(eq(SessionEvents.sessionId, sessionId))
        .orderBy(asc(SessionEvents.seq))
    ).map((e) => e.type);
  const status = async (s: Seed, sessionId: string) =>
    (await s.db.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, sessionId)))[0]!;

  it("the agent and the viewer reconnect and carry on; the timeline shows the gap", async () => {
    const { db, s, port, first, agent, viewer, sessionId, participantId } = await setUp();
    first.child.kill("SIGKILL");
    await agent.closedWith();
    await viewer.closedWith();
    const second = await restart(db.url!, port);

    // The agent says which sessions it still runs; the viewer asks the API for a fresh ticket.
    const agentAgain = await TestClient.open(second.url);
    agentAgain.send({
      type: "presence/hello",
      v: 1,
      auth: { kind: "agent", ...s.agentA },
      resume: [sessionId],
    });
    await agentAgain.next("presence/welcome");
    expect(await agentAgain.next("session/state")).toMatchObject({ sessionId, status: "active" });
    const { ticket } = await s.api(s.techA).sessions.ticket({ id: sessionId });
    const viewerAgain = await TestClient.open(second.url);
    viewerAgain.send({
      type: "presence/hello",
      v: 1,
      auth: { kind: "ticket", ticket },
      peer: "the-one-page",
    });
    expect(await viewerAgain.next("presence/welcome")).toMatchObject({ participantId });
    expect(await viewerAgain.next("session/state")).toMatchObject({ status: "active" });

    // Same page, same peer: the agent keeps its peer connection (no new offer needed), and
    // negotiation (an ICE restart, say) flows again.
    const snapshot = await agentAgain.next("session/participants", (m) =>
      m.participants.some((p) => p.id === participantId && p.connected),
    );
    expect(snapshot.participants.find((p) => p.id === participantId)?.peer).toBe("the-one-page");
    agentAgain.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 ice restart" });
    expect(await viewerAgain.next("signal/offer")).toMatchObject({ sdp: "v=0 ice restart" });

    await new Promise((r) => setTimeout(r, 4000)); // past the grace period and a sweep
    expect((await status(s, sessionId)).status).toBe("active");
    expect(await events(s, sessionId)).toContain("session_resumed");
    viewerAgain.send({ type: "session/end", sessionId });
    await agentAgain.next("session/state", (m) => m.status === "ended");
    agentAgain.close();
  }, 60_000);

  it("when the agent does not come back, the session ends as interrupted after the grace period", async () => {
    const { db, s, port, first, agent, viewer, sessionId } = await setUp();
    first.child.kill("SIGKILL");
    await agent.closedWith();
    await viewer.closedWith();
    await restart(db.url!, port);
    // Nobody reconnects: the worker that held the session is gone and nothing refreshes it.
    const deadline = Date.now() + 20_000;
    let row = await status(s, sessionId);
    while (row.status === "active" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 250));
      row = await status(s, sessionId);
    }
    expect(row).toMatchObject({ status: "ended", endReason: "interrupted" });
  }, 60_000);
});
