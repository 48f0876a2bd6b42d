/**
 * The signaling contract, run against every deployment: one Node worker (in-process bus), two Node
 * workers over Redis with the agent and the viewers on different workers, and the Deno worker.
 * Real worker, real database, real Redis, the real API for what a person does in the dashboard
 * (open, join, end, remove an agent, deactivate a user); the peers are WebSocket clients speaking
 * the protocol. Times to a revocation are printed, not asserted: timings belong to benchmarks.
 */
import { createHmac } from "node:crypto";
import { Agents, RemoteSessions, SessionEvents, Tenants, Users } from "@rd/db";
import { importTicketKey, signTicket } from "@rd/auth/tickets";
import { CLOSE_CODES, TURN_CREDENTIAL_TTL_SECONDS } from "@rd/protocol";
import { and, asc, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "./testing/client.ts";
import {
  deployments,
  type Deployment,
  TEST_METRICS_TOKEN,
  TEST_TUNING,
  TEST_TURN,
} from "./testing/deployments.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Longer than a grace period and the sweep after it, for "did not come back" cases. */
const PAST_GRACE_MS = TEST_TUNING.resumeGraceMs + 1500;

async function until<T>(probe: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (ok(value) || Date.now() > deadline) return value;
    await sleep(50);
  }
}

/** The worker's /healthz as anyone sees it, or as monitoring presenting `token` does. */
async function health(wsUrl: string, token?: string): Promise<Record<string, unknown>> {
  const url = wsUrl.replace("ws://", "http://").replace("/ws", "/healthz");
  const response = await fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

describe.each(deployments())("signaling contract on $name", (kind) => {
  let d: Deployment;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    d = await kind.create();
  }, 60_000);
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await d?.close();
  });

  async function agent(credentials = d.seed.agentA, resume?: string[]) {
    const client = await TestClient.open(d.agentUrl);
    clients.push(client);
    client.send({
      type: "presence/hello",
      v: 1,
      auth: { kind: "agent", ...credentials },
      ...(resume ? { resume } : {}),
    });
    await client.next("presence/welcome");
    return client;
  }

  async function viewer(ticket: string, peer = `page-${crypto.randomUUID().slice(0, 8)}`, url = d.viewerUrl) {
    const client = await TestClient.open(url);
    clients.push(client);
    client.send({ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket }, peer });
    return client;
  }

  const agentRow = async (agentId: string) =>
    (await d.seed.db.db.select().from(Agents).where(eq(Agents.id, agentId)))[0]!;
  const sessionRow = async (sessionId: string) =>
    (await d.seed.db.db.select().from(RemoteSessions).where(eq(RemoteSessions.id, sessionId)))[0]!;
  const eventTypes = async (where: { sessionId?: string; agentId?: string }) =>
    (
      await d.seed.db.db
        .select({ type: SessionEvents.type })
        .from(SessionEvents)
        .where(
          and(
            where.sessionId ? eq(SessionEvents.sessionId, where.sessionId) : undefined,
            where.agentId ? eq(SessionEvents.agentId, where.agentId) : undefined,
          ),
        )
        .orderBy(asc(SessionEvents.seq))
    ).map((e) => e.type);

  /** Agent online, technician connected with a ticket, request delivered to the agent. */
  async function requested(credentials = d.seed.agentA) {
    const a = await agent(credentials);
    const { sessionId, participantId, ticket } = await d.seed.openSession(d.seed.techA, credentials.agentId);
    const peer = `owner-${crypto.randomUUID().slice(0, 8)}`;
    const v = await viewer(ticket, peer);
    const welcome = await v.next("presence/welcome");
    expect(welcome).toMatchObject({ participantId });
    const request = await a.next("session/request", (m) => m.sessionId === sessionId);
    return { a, v, sessionId, participantId, peer, request, welcome };
  }

  async function active(credentials = d.seed.agentA) {
    const r = await requested(credentials);
    r.a.send({ type: "session/accept", sessionId: r.sessionId });
    await r.v.next("session/state", (m) => m.status === "active");
    await r.a.next("session/state", (m) => m.status === "active");
    return r;
  }

  /** `user` joins the session through the API and connects; the agent admits them. */
  async function observer(a: TestClient, sessionId: string, user = d.seed.techA2) {
    const { participantId, ticket } = await d.seed.api(user).sessions.join({ id: sessionId });
    const v = await viewer(ticket);
    await v.next("presence/welcome");
    await a.next("session/participants", (m) =>
      m.participants.some((p) => p.id === participantId && p.connected),
    );
    a.send({ type: "participant/admit", sessionId, participantId });
    await v.next("session/participants", (m) =>
      m.participants.some((p) => p.id === participantId && p.admitted),
    );
    return { v, participantId };
  }

  /** A correctly signed ticket for tenant A's technician, naming any session and participant. */
  async function forgeTicket(
    sessionId: string,
    participantId: string,
    options?: { ttlSeconds?: number; now?: number },
  ) {
    const claims = {
      sid: sessionId,
      tid: d.seed.tenantA,
      uid: d.seed.techA.id,
      pid: participantId,
      role: "technician" as const,
      name: "t",
      email: "t@x",
    };
    return (await signTicket(d.seed.ticketKey, claims, options)).ticket;
  }

  describe("presence", () => {
    it("marks an agent online with an event, and offline after it leaves", async () => {
      const { agentId } = d.seed.agentA2;
      const a = await agent(d.seed.agentA2);
      expect((await agentRow(agentId)).status).toBe("online");
      a.close();
      const row = await until(
        () => agentRow(agentId),
        (r) => r.status === "offline",
      );
      expect(row.status).toBe("offline");
      expect(await eventTypes({ agentId })).toEqual(
        expect.arrayContaining(["agent_online", "agent_offline"]),
      );
    });

    it("does not spam the timeline when a link flaps within the grace period", async () => {
      const { agentId } = d.seed.agentA2;
      const before = (await eventTypes({ agentId })).length;
      const first = await agent(d.seed.agentA2);
      first.close();
      await sleep(50);
      const second = await agent(d.seed.agentA2);
      await sleep(600); // past the grace period
      expect((await agentRow(agentId)).status).toBe("online");
      const after = await eventTypes({ agentId });
      expect(after.slice(before)).toEqual(["agent_online"]);
      second.close();
      await until(
        () => agentRow(agentId),
        (r) => r.status === "offline",
      );
    });

    it("replaces an agent's older connection when it connects again", async () => {
      const first = await agent(d.seed.agentA2);
      const second = await agent(d.seed.agentA2);
      expect((await first.closedWith()).code).toBe(CLOSE_CODES.replaced);
      expect(second.closed).toBeUndefined();
      second.close();
    });
  });

  describe("session lifecycle", () => {
    it("asks a connected agent as soon as the session is made, before its viewer connects, and once", async () => {
      const a = await agent();
      const { sessionId, participantId, ticket } = await d.seed.openSession(
        d.seed.techA,
        d.seed.agentA.agentId,
      );
      // No viewer yet: the agent answers (and starts its encoder) while the page is on its way.
      const request = await a.next("session/request", (m) => m.sessionId === sessionId);
      expect(request.technician.id).toBe(d.seed.techA.id);
      a.send({ type: "session/accept", sessionId });
      await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "active");
      const peer = `page-${crypto.randomUUID().slice(0, 8)}`;
      const v = await viewer(ticket, peer);
      await v.next("presence/welcome");
      await v.next("session/state", (m) => m.status === "active");
      // The agent hears that its viewer is there, which is when it offers; it is not asked again.
      await a.next("session/participants", (m) =>
        m.participants.some((p) => p.id === participantId && p.connected && p.peer === peer),
      );
      expect(a.received.filter((m) => m.type === "session/request")).toEqual([]);
      v.send({ type: "session/end", sessionId });
      await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended");
      a.close();
    });

    /** The agent was connected and is no longer held by any worker (still online: its grace period runs). */
    async function agentLetGo(credentials: typeof d.seed.agentA2) {
      const first = await agent(credentials);
      first.close();
      await first.closedWith();
      // The worker lets go of the connection a moment after the socket closes; until then it would
      // still ask the agent itself (and a reconnect that quick gets that request instead).
      await until(
        async () => (await health(d.agentUrl, TEST_METRICS_TOKEN)).agents,
        (agents) => agents === 0,
      );
    }

    it("has the first viewer ask an agent that was not connected when the session was made", async () => {
      await agentLetGo(d.seed.agentA2);
      // Made while no worker holds the agent (it is still online: its grace period runs).
      const { sessionId, ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA2.agentId);
      const a = await agent(d.seed.agentA2);
      await sleep(100);
      expect(a.received.filter((m) => m.type === "session/request")).toEqual([]);
      const v = await viewer(ticket);
      await v.next("presence/welcome");
      await a.next("session/request", (m) => m.sessionId === sessionId);
      v.send({ type: "session/end", sessionId });
      await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended");
      a.close();
    });

    it("asks an agent again when it connects for a request a worker took that never reached it", async () => {
      await agentLetGo(d.seed.agentA2);
      const { sessionId, ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA2.agentId);
      // As when the worker that took the request held a connection of the agent that was closing
      // (or none held one): marked as asked, and nobody was.
      await d.seed.db.db
        .update(RemoteSessions)
        .set({ agentSeenAt: new Date() })
        .where(eq(RemoteSessions.id, sessionId));
      const a = await agent(d.seed.agentA2);
      await a.next("session/request", (m) => m.sessionId === sessionId);
      expect((await sessionRow(sessionId)).status).toBe("pending");
      a.send({ type: "session/accept", sessionId });
      const v = await viewer(ticket);
      await v.next("session/state", (m) => m.status === "active");
      v.send({ type: "session/end", sessionId });
      await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended");
      a.close();
    });

    it("delivers the request to the agent with the technician's name and workspace", async () => {
      const { a, v, request, participantId } = await requested();
      // And the opener's participant, whose peer the agent makes while the page connects.
      expect(request.participantId).toBe(participantId);
      expect(request.technician).toEqual({
        id: d.seed.techA.id,
        name: d.seed.techA.name,
        email: d.seed.techA.email,
        tenant: "A",
      });
      v.send({ type: "session/end", sessionId: request.sessionId });
      await a.next("session/state", (m) => m.status === "ended");
      a.close();
    });

    it("gives the agent and the viewer each a TURN credential of their own, for ten minutes", async () => {
      const { a, v, sessionId, participantId, request, welcome } = await requested();
      const now = Date.now() / 1000;
      for (const [servers, id] of [
        [request.iceServers, sessionId],
        [welcome.iceServers, participantId],
      ] as const) {
        expect(servers).toHaveLength(1);
        const { urls, username, credential } = servers![0]!;
        expect(urls).toEqual([TEST_TURN.url]);
        const [expiry, who] = username!.split(":");
        expect(who).toBe(id);
        expect(Number(expiry) - now).toBeGreaterThan(TURN_CREDENTIAL_TTL_SECONDS - 10);
        expect(Number(expiry) - now).toBeLessThanOrEqual(TURN_CREDENTIAL_TTL_SECONDS + 1);
        // What coturn's --use-auth-secret recomputes from the username.
        expect(credential).toBe(createHmac("sha1", TEST_TURN.secret).update(username!).digest("base64"));
      }
      v.send({ type: "session/end", sessionId });
      await a.next("session/state", (m) => m.status === "ended");
      a.close();
    });

    it("goes pending → awaiting_consent → active on prompt and accept, with events", async () => {
      const { a, v, sessionId } = await requested();
      a.send({ type: "session/prompt", sessionId });
      expect(await v.next("session/state", (m) => m.status === "awaiting_consent")).toMatchObject({
        sessionId,
      });
      a.send({ type: "session/accept", sessionId });
      await v.next("session/state", (m) => m.status === "active");
      expect((await sessionRow(sessionId)).status).toBe("active");
      expect(await eventTypes({ sessionId })).toEqual([
        "session_requested",
        "session_consent_requested",
        "session_started",
      ]);
      v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("denies: the viewer is told and disconnected, the session is denied", async () => {
      const { a, v, sessionId } = await requested();
      a.send({ type: "session/prompt", sessionId });
      a.send({ type: "session/deny", sessionId, reason: "denied_by_user" });
      expect(await v.next("session/state", (m) => m.status === "denied")).toMatchObject({
        reason: "denied_by_user",
      });
      expect((await v.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      expect(await sessionRow(sessionId)).toMatchObject({ status: "denied", endReason: "denied_by_user" });
      a.close();
    });

    it("relays each viewer's negotiation only between that viewer and the agent", async () => {
      const { a, v, sessionId, participantId } = await active();
      const b = await observer(a, sessionId);
      a.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 for the owner" });
      a.send({
        type: "signal/offer",
        sessionId,
        participantId: b.participantId,
        sdp: "v=0 for the observer",
      });
      expect(await v.next("signal/offer")).toMatchObject({ participantId, sdp: "v=0 for the owner" });
      expect(await b.v.next("signal/offer")).toMatchObject({ sdp: "v=0 for the observer" });
      v.send({ type: "signal/answer", sessionId, participantId, sdp: "v=0 answer" });
      expect(await a.next("signal/answer")).toMatchObject({ participantId, sdp: "v=0 answer" });
      const candidate = {
        candidate: "candidate:1 1 udp 2122260223 127.0.0.1 5000 typ host",
        sdpMid: "0",
        sdpMLineIndex: 0,
      };
      b.v.send({ type: "signal/ice", sessionId, participantId: b.participantId, candidate });
      expect(await a.next("signal/ice")).toMatchObject({ participantId: b.participantId, candidate });
      // Nobody speaks for someone else.
      b.v.send({ type: "signal/answer", sessionId, participantId, sdp: "v=0 forged" });
      expect(await b.v.next("error")).toMatchObject({ code: "forbidden", ref: "signal/answer" });
      expect(v.received.filter((m) => m.type === "signal/offer")).toEqual([]);
      expect(b.v.received.filter((m) => m.type === "signal/offer")).toEqual([]);
      v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("ends from the viewer: everyone told, session ended with the reason", async () => {
      const { a, v, sessionId } = await active();
      v.send({ type: "session/end", sessionId });
      expect(
        await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended"),
      ).toMatchObject({
        reason: "ended_by_technician",
      });
      expect((await v.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      expect(await sessionRow(sessionId)).toMatchObject({
        status: "ended",
        endReason: "ended_by_technician",
      });
      a.close();
    });

    it("ends from the API: both peers hear it and the viewer is closed", async () => {
      const { a, v, sessionId } = await active();
      await d.seed.api(d.seed.techA).sessions.end({ id: sessionId });
      expect(await v.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "ended_by_technician",
      });
      expect((await v.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      expect(
        await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended"),
      ).toMatchObject({
        reason: "ended_by_technician",
      });
      a.close();
    });

    it("ends from the agent", async () => {
      const { a, v, sessionId } = await active();
      a.send({ type: "session/end", sessionId });
      expect(await v.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "ended_by_agent",
      });
      expect((await sessionRow(sessionId)).endReason).toBe("ended_by_agent");
      a.close();
    });

    it("fails with negotiation_failed when the agent cannot set the session up", async () => {
      const { a, v, sessionId } = await active();
      a.send({ type: "session/end", sessionId, reason: "negotiation_failed" });
      expect(await v.next("session/state", (m) => m.status === "failed")).toMatchObject({
        reason: "negotiation_failed",
      });
      expect(await sessionRow(sessionId)).toMatchObject({
        status: "failed",
        endReason: "negotiation_failed",
      });
      expect((await eventTypes({ sessionId })).at(-1)).toBe("session_failed");
      a.close();
    });

    it("answers an illegal transition with an error to its sender", async () => {
      const { a, v, sessionId } = await active();
      a.send({ type: "session/accept", sessionId });
      expect(await a.next("error")).toMatchObject({
        code: "illegal_transition",
        ref: "session/accept",
        message: "A session that is active cannot start.",
      });
      a.send({ type: "session/end", sessionId, reason: "viewer_left" });
      expect(await a.next("error")).toMatchObject({ code: "bad_reason", ref: "session/end" });
      expect((await sessionRow(sessionId)).status).toBe("active");
      v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("carries on when the agent's connection comes back within the grace period", async () => {
      const { a, v, sessionId, participantId } = await active();
      a.close();
      await sleep(200);
      const back = await agent(d.seed.agentA, [sessionId]);
      await sleep(PAST_GRACE_MS);
      expect((await sessionRow(sessionId)).status).toBe("active");
      expect(await eventTypes({ sessionId })).toContain("session_resumed");
      back.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 after the gap" });
      expect(await v.next("signal/offer")).toMatchObject({ sdp: "v=0 after the gap" });
      v.send({ type: "session/end", sessionId });
      back.close();
    });

    it("ends a session the agent no longer runs when it comes back without it", async () => {
      const { a, v } = await active();
      a.close();
      const restarted = await agent(d.seed.agentA, []);
      expect(await v.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "agent_offline",
      });
      restarted.close();
    });

    it("ends with agent_offline when the agent disconnects and does not come back", async () => {
      const { a, v, sessionId } = await active();
      a.close();
      expect(await v.next("session/state", (m) => m.status === "ended", PAST_GRACE_MS + 3000)).toMatchObject({
        reason: "agent_offline",
      });
      expect((await v.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      expect(await sessionRow(sessionId)).toMatchObject({ status: "ended", endReason: "agent_offline" });
    });

    it("ends with viewer_left when its only viewer goes and does not come back", async () => {
      const { a, v, sessionId } = await active();
      v.close();
      expect(await a.next("session/state", (m) => m.status === "ended", PAST_GRACE_MS + 3000)).toMatchObject({
        reason: "viewer_left",
      });
      expect((await sessionRow(sessionId)).endReason).toBe("viewer_left");
      a.close();
    });

    it("a reload rejoins: a new ticket and a new page within the grace period carry on", async () => {
      const { a, v, sessionId, participantId } = await active();
      // The closing page says so: the agent drops its peer at once, the place waits.
      v.send({ type: "participant/away", sessionId });
      await a.next("session/participants", (m) =>
        m.participants.some((p) => p.id === participantId && !p.connected && p.peer === null),
      );
      const { ticket } = await d.seed.api(d.seed.techA).sessions.ticket({ id: sessionId });
      const reloaded = await viewer(ticket, "page-after-reload");
      expect(await reloaded.next("presence/welcome")).toMatchObject({ participantId });
      expect(await reloaded.next("session/state")).toMatchObject({ status: "active" });
      await a.next("session/participants", (m) =>
        m.participants.some((p) => p.id === participantId && p.peer === "page-after-reload"),
      );
      await sleep(PAST_GRACE_MS);
      expect((await sessionRow(sessionId)).status).toBe("active");
      reloaded.send({ type: "session/end", sessionId });
      a.close();
    });

    it("serves one session after another on one agent connection, each with its participants", async () => {
      const a = await agent();
      for (let round = 0; round < 3; round++) {
        const { sessionId, participantId, ticket } = await d.seed.openSession(
          d.seed.techA,
          d.seed.agentA.agentId,
        );
        const v = await viewer(ticket);
        await a.next("session/request", (m) => m.sessionId === sessionId);
        a.send({ type: "session/accept", sessionId });
        const seen = await a.next("session/participants", (m) => m.sessionId === sessionId);
        expect(seen.participants.map((p) => p.id)).toEqual([participantId]);
        v.send({ type: "session/end", sessionId });
        await a.next("session/state", (m) => m.sessionId === sessionId && m.status === "ended");
      }
      a.close();
    });

    it("ends a request for an offline agent at once", async () => {
      // Offline first: a request nobody asks about for a few seconds is swept as interrupted.
      await until(
        () => agentRow(d.seed.agentA2.agentId),
        (r) => r.status === "offline",
      );
      const { sessionId, ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA2.agentId);
      const v = await viewer(ticket);
      expect(await v.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "agent_offline",
      });
      expect((await sessionRow(sessionId)).status).toBe("ended");
    });
  });

  describe("participants and control", () => {
    it("an observer joins and is admitted; control moves by request, grant and take, with events", async () => {
      const { a, v, sessionId, participantId: owner } = await active();
      const b = await observer(a, sessionId);
      // The agent hears who is in and who drives: nobody yet.
      const seen = await a.next("session/participants", (m) => m.participants.length === 2);
      expect(seen.participants.map((p) => p.id).sort()).toEqual([owner, b.participantId].sort());
      // The owner drives from the start; given up, asked for again with nobody in control, it is
      // the owner's at once. The observer may not take it.
      expect(seen.controllerId).toBe(owner);
      v.send({ type: "control/release", sessionId });
      await a.next("session/participants", (m) => m.controllerId === null);
      v.send({ type: "control/request", sessionId });
      await a.next("session/participants", (m) => m.controllerId === owner);
      b.v.send({ type: "control/take", sessionId });
      expect(await b.v.next("error")).toMatchObject({ code: "illegal_control", ref: "control/take" });
      b.v.send({ type: "control/request", sessionId });
      await v.next("session/participants", (m) =>
        m.participants.some((p) => p.id === b.participantId && p.requestingControl),
      );
      v.send({ type: "control/grant", sessionId, to: b.participantId });
      const granted = await a.next("session/participants", (m) => m.controllerId === b.participantId);
      // The owner takes it back without asking.
      v.send({ type: "control/take", sessionId });
      await b.v.next("session/participants", (m) => m.controllerId === owner && m.version > granted.version);
      expect((await eventTypes({ sessionId })).slice(2)).toEqual([
        "participant_joined",
        "participant_admitted",
        "control_released",
        "control_granted",
        "control_requested",
        "control_granted",
        "control_taken",
      ]);
      v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("goes on when an observer or the owner leaves; the last driver's leaving ends it", async () => {
      const { a, v, sessionId, participantId: owner } = await active();
      const b = await observer(a, sessionId);
      v.send({ type: "participant/leave", sessionId });
      expect(await v.closedWith()).toMatchObject({ code: CLOSE_CODES.participantLeft, reason: "left" });
      await a.next("session/participants", (m) => !m.participants.some((p) => p.id === owner));
      expect((await sessionRow(sessionId)).status).toBe("active");
      // An observer may not end the session for everyone, only leave it.
      b.v.send({ type: "session/end", sessionId });
      expect(await b.v.next("error")).toMatchObject({ code: "forbidden", ref: "session/end" });
      b.v.send({ type: "participant/leave", sessionId });
      expect(await a.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "viewer_left",
      });
      a.close();
    });

    it("a joiner refused at the machine is told why and disconnected", async () => {
      const { a, v, sessionId } = await active();
      const { participantId, ticket } = await d.seed.api(d.seed.techA2).sessions.join({ id: sessionId });
      const joiner = await viewer(ticket);
      await joiner.next("presence/welcome");
      a.send({ type: "participant/refuse", sessionId, participantId, reason: "denied_by_user" });
      expect(await joiner.closedWith()).toMatchObject({
        code: CLOSE_CODES.participantLeft,
        reason: "denied_by_user",
      });
      expect((await eventTypes({ sessionId })).at(-1)).toBe("participant_refused");
      v.send({ type: "session/end", sessionId });
      a.close();
    });
  });

  describe("revocation", () => {
    it("removing an agent closes its socket and ends its sessions at once; its credential is refused", async () => {
      const fresh = await d.seed.newAgent(`doomed-${crypto.randomUUID().slice(0, 6)}`);
      const { a, v, sessionId } = await active(fresh);
      const started = Date.now();
      await d.seed.api(d.seed.adminA).sessions.byId({ id: sessionId }); // warm, so the timing is the removal's
      const removedAt = Date.now();
      await d.seed.api(d.seed.adminA).agents.remove({ id: fresh.agentId });
      expect(await a.closedWith()).toMatchObject({ code: CLOSE_CODES.revoked });
      const agentClosedMs = Date.now() - removedAt;
      expect(await v.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "agent_removed",
      });
      expect((await v.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      console.log(
        `[${kind.name}] agent removal: agent socket closed ${agentClosedMs} ms, viewer told ${Date.now() - removedAt} ms after the call (test ${Date.now() - started} ms)`,
      );
      // The credential it used a moment ago (and the worker had cached) is refused at once.
      const again = await TestClient.open(d.agentUrl);
      again.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...fresh } });
      expect((await again.closedWith()).code).toBe(CLOSE_CODES.unauthenticated);
    });

    it("deactivating a user closes their viewer at once and refuses the tickets they still hold", async () => {
      const { a, v, sessionId } = await active();
      const user = await d.seed.newUser(`leaver-${crypto.randomUUID().slice(0, 6)}@example.com`);
      const b = await observer(a, sessionId, user);
      const spare = await d.seed.api(user).sessions.ticket({ id: sessionId });
      const deactivatedAt = Date.now();
      await d.seed.api(d.seed.adminA).users.setDisabled({ id: user.id, disabled: true });
      expect(await b.v.closedWith()).toMatchObject({ code: CLOSE_CODES.revoked });
      console.log(
        `[${kind.name}] user deactivation: viewer closed ${Date.now() - deactivatedAt} ms after the call`,
      );
      const late = await viewer(spare.ticket);
      expect(await late.closedWith()).toMatchObject({
        code: CLOSE_CODES.forbidden,
        reason: expect.stringMatching(/deactivated/),
      });
      // The owner is unaffected.
      expect((await sessionRow(sessionId)).status).toBe("active");
      v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("a changed role applies to the user's open connection, without reconnecting", async () => {
      const { a, sessionId } = await active();
      const user = await d.seed.newUser(`promoted-${crypto.randomUUID().slice(0, 6)}@example.com`);
      const b = await observer(a, sessionId, user);
      const admin = d.seed.api(d.seed.adminA);
      // A technician observing may not end the session for everyone.
      b.v.send({ type: "session/end", sessionId });
      expect(await b.v.next("error")).toMatchObject({ code: "forbidden", ref: "session/end" });

      // Made admin: the same connection may now (an admin may end any session). The change reaches
      // the worker through the control feed, a moment after the call returns.
      await admin.users.setRole({ id: user.id, role: "admin" });
      const promotedAt = Date.now();
      const ended = await until(
        async () => {
          b.v.send({ type: "session/end", sessionId });
          await sleep(50);
          return (await sessionRow(sessionId)).status;
        },
        (status) => status === "ended",
      );
      expect(ended).toBe("ended");
      console.log(`[${kind.name}] role change: applied within ${Date.now() - promotedAt} ms of the call`);
      a.close();

      // Made technician again in a session joined as an admin, by a change whose notice this worker
      // never hears (written straight to the database): ending the session is refused at once, as
      // the worker checks an admin's role where it acts.
      const second = await active();
      const c = await observer(second.a, second.sessionId, user);
      await d.seed.db.db.update(Users).set({ role: "technician" }).where(eq(Users.id, user.id));
      c.v.send({ type: "session/end", sessionId: second.sessionId });
      expect(await c.v.next("error")).toMatchObject({ code: "forbidden", ref: "session/end" });
      expect((await sessionRow(second.sessionId)).status).toBe("active");
      second.v.send({ type: "session/end", sessionId: second.sessionId });
      second.a.close();
    });
  });

  describe("admin powers", () => {
    it("are held back from an admin who still owes the two-factor sign-in the workspace requires", async () => {
      const { a, sessionId } = await active();
      // An admin without two-factor sign-in, in a workspace that now requires it of admins: the
      // hello reads the role (admin), and the powers are checked where they act.
      const user = await d.seed.newUser(`owes-2fa-${crypto.randomUUID().slice(0, 6)}@example.com`);
      await d.seed.db.db.update(Users).set({ role: "admin" }).where(eq(Users.id, user.id));
      await d.seed.db.db
        .update(Tenants)
        .set({ twoFactorPolicy: "admins" })
        .where(eq(Tenants.id, d.seed.tenantA));
      const b = await observer(a, sessionId, user);
      try {
        b.v.send({ type: "session/end", sessionId });
        expect(await b.v.next("error")).toMatchObject({ code: "forbidden", ref: "session/end" });
        expect((await sessionRow(sessionId)).status).toBe("active");
      } finally {
        await d.seed.db.db
          .update(Tenants)
          .set({ twoFactorPolicy: "off" })
          .where(eq(Tenants.id, d.seed.tenantA));
      }
      // Once the policy is met (here: lifted), the same connection may.
      b.v.send({ type: "session/end", sessionId });
      expect(await a.next("session/state", (m) => m.status === "ended")).toMatchObject({
        reason: "ended_by_admin",
      });
      a.close();
    });
  });

  describe("security", () => {
    it("refuses a replayed ticket", async () => {
      const a = await agent();
      const { ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA.agentId);
      const first = await viewer(ticket);
      await first.next("presence/welcome");
      const replay = await viewer(ticket);
      expect(await replay.closedWith()).toMatchObject({
        code: CLOSE_CODES.unauthenticated,
        reason: expect.stringMatching(/used already/),
      });
      first.close();
      a.close();
    });

    it("refuses a tampered, a foreign-key and a garbage ticket", async () => {
      const { ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA.agentId);
      const [v, payload, sig] = ticket.split(".");
      const claims = JSON.parse(Buffer.from(payload!, "base64url").toString());
      claims.tid = d.seed.tenantB;
      const tampered = `${v}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}.${sig}`;
      const foreign = (await signTicket(await importTicketKey("x".repeat(40)), claims)).ticket;
      for (const bad of [tampered, foreign, "v1.not.a-ticket-at-all"]) {
        const client = await viewer(bad);
        expect((await client.closedWith()).code).toBe(CLOSE_CODES.unauthenticated);
      }
    });

    it("refuses an expired ticket", async () => {
      const { sessionId, participantId } = await d.seed.openSession(d.seed.techA, d.seed.agentA.agentId);
      const client = await viewer(
        await forgeTicket(sessionId, participantId, { ttlSeconds: 1, now: Date.now() - 10_000 }),
      );
      expect(await client.closedWith()).toMatchObject({
        code: CLOSE_CODES.unauthenticated,
        reason: expect.stringMatching(/expired/),
      });
    });

    it("refuses a valid ticket that names another tenant's session", async () => {
      const other = await d.seed.openSession(d.seed.techB, d.seed.agentB.agentId);
      // Correctly signed, but claiming tenant A (technician A) for tenant B's session.
      const client = await viewer(await forgeTicket(other.sessionId, other.participantId));
      expect((await client.closedWith()).code).toBe(CLOSE_CODES.forbidden);
    });

    it("refuses a ticket for a session that has ended, saying how it ended", async () => {
      const { a, v, sessionId, participantId } = await active();
      v.send({ type: "session/end", sessionId });
      await a.next("session/state", (m) => m.status === "ended");
      const late = await viewer(await forgeTicket(sessionId, participantId));
      // A page coming back after a worker restart learns why (here: the technician ended it).
      expect(await late.next("session/state")).toMatchObject({
        status: "ended",
        reason: "ended_by_technician",
      });
      expect((await late.closedWith()).code).toBe(CLOSE_CODES.sessionEnded);
      a.close();
    });

    it("refuses an agent with a wrong secret or another agent's id", async () => {
      const wrong = await TestClient.open(d.agentUrl);
      wrong.send({
        type: "presence/hello",
        v: 1,
        auth: { kind: "agent", agentId: d.seed.agentA.agentId, secret: d.seed.agentB.secret },
      });
      expect((await wrong.closedWith()).code).toBe(CLOSE_CODES.unauthenticated);
      const unknown = await TestClient.open(d.agentUrl);
      unknown.send({
        type: "presence/hello",
        v: 1,
        auth: { kind: "agent", agentId: crypto.randomUUID(), secret: "x".repeat(43) },
      });
      expect((await unknown.closedWith()).code).toBe(CLOSE_CODES.unauthenticated);
    });

    it("refuses messages for a session the sender is not part of", async () => {
      const { a, v, sessionId, participantId } = await active();
      const other = await agent(d.seed.agentA2);
      // Another agent of the same tenant cannot inject into this session…
      other.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 evil" });
      expect(await other.next("error")).toMatchObject({ code: "forbidden" });
      other.send({ type: "session/accept", sessionId });
      expect(await other.next("error")).toMatchObject({ code: "forbidden" });
      // …and a viewer cannot address another session.
      v.send({ type: "signal/answer", sessionId: crypto.randomUUID(), participantId, sdp: "v=0" });
      expect(await v.next("error")).toMatchObject({ code: "forbidden" });
      // The real peers are unaffected.
      a.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 good" });
      expect(await v.next("signal/offer")).toMatchObject({ sdp: "v=0 good" });
      expect(v.received.filter((m) => m.type === "signal/offer")).toEqual([]);
      v.send({ type: "session/end", sessionId });
      a.close();
      other.close();
    });

    it("closes a connection that never says hello, or says something else first", async () => {
      const silent = await TestClient.open(d.agentUrl);
      expect((await silent.closedWith(3000)).code).toBe(CLOSE_CODES.timeout);
      const rude = await TestClient.open(d.agentUrl);
      rude.send({ type: "heartbeat/ping", t: 1 });
      expect((await rude.closedWith()).code).toBe(CLOSE_CODES.unauthenticated);
    });

    it("caps the connections one address holds before hello; a welcome, a close or the timeout frees a place", async () => {
      const cap = TEST_TUNING.maxUnauthenticatedPerIp;
      const waiting = async () => (await health(d.agentUrl, TEST_METRICS_TOKEN)).unauthenticated as number;
      const open = async () => {
        const client = await TestClient.open(d.agentUrl);
        clients.push(client);
        return client;
      };
      expect(await until(waiting, (n) => n === 0)).toBe(0);
      const quiet = await Promise.all(Array.from({ length: cap }, open));
      expect(await until(waiting, (n) => n === cap)).toBe(cap);
      const extra = await open();
      expect(await extra.closedWith()).toMatchObject({ code: CLOSE_CODES.rateLimited });
      // A hello that succeeds gives its place back…
      const fresh = await d.seed.newAgent(`capped-${crypto.randomUUID().slice(0, 6)}`);
      quiet[0]!.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...fresh } });
      await quiet[0]!.next("presence/welcome");
      expect(await waiting()).toBe(cap - 1);
      // …and so does a socket that goes away, and one whose time to say hello ran out.
      quiet[1]!.close();
      expect(await until(waiting, (n) => n === cap - 2)).toBe(cap - 2);
      for (const client of quiet.slice(2)) {
        expect((await client.closedWith(3000)).code).toBe(CLOSE_CODES.timeout);
      }
      expect(await until(waiting, (n) => n === 0)).toBe(0);
      quiet[0]!.close();
    });

    it("tells anyone /healthz only that it is alive; the counts need the metrics token", async () => {
      const a = await agent();
      expect(await health(d.agentUrl)).toEqual({ status: "ok" });
      expect(await health(d.agentUrl, "not-the-metrics-token-at-all")).toEqual({ status: "ok" });
      expect(await health(d.agentUrl, TEST_METRICS_TOKEN)).toMatchObject({
        status: "ok",
        connections: expect.any(Number),
        agents: expect.any(Number),
        viewers: expect.any(Number),
        unauthenticated: expect.any(Number),
      });
      a.close();
    });

    it("records a refused ticket and a refused agent secret in the tenant's audit trail, with the address and never the secret", async () => {
      const t = await d.seed.newTenant();
      // Signed with the worker's key for this tenant, but naming a participation it does not have.
      const { ticket } = await signTicket(d.seed.ticketKey, {
        sid: crypto.randomUUID(),
        tid: t.tenantId,
        uid: t.tech.id,
        pid: crypto.randomUUID(),
        role: "technician",
        name: "t",
        email: "t@x",
      });
      expect((await (await viewer(ticket)).closedWith()).code).toBe(CLOSE_CODES.forbidden);
      const wrongSecret = `wrong-${crypto.randomUUID()}`;
      const guess = async () => {
        const client = await TestClient.open(d.agentUrl);
        client.send({
          type: "presence/hello",
          v: 1,
          auth: { kind: "agent", agentId: t.agent.agentId, secret: wrongSecret },
        });
        return (await client.closedWith()).code;
      };
      expect(await guess()).toBe(CLOSE_CODES.unauthenticated);

      const refusals = () =>
        d.seed.db.db
          .select()
          .from(SessionEvents)
          .where(
            and(
              eq(SessionEvents.tenantId, t.tenantId),
              inArray(SessionEvents.type, ["ticket_refused", "agent_credential_refused"]),
            ),
          )
          .orderBy(asc(SessionEvents.seq));
      const events = await until(refusals, (e) => e.length >= 2);
      const address = expect.stringMatching(/127\.0\.0\.1/);
      expect(events.find((e) => e.type === "ticket_refused")).toMatchObject({
        actorType: "system",
        data: { ip: address, reason: "unknown_participant", userId: t.tech.id },
      });
      expect(events.find((e) => e.type === "agent_credential_refused")).toMatchObject({
        actorType: "system",
        agentId: t.agent.agentId,
        data: { ip: address, reason: "wrong_secret" },
      });
      const written = JSON.stringify(events);
      expect(written).not.toContain(wrongSecret);
      expect(written).not.toContain(ticket.split(".")[2]!);

      // More guesses from the same address within the minute are counted, not written one by one.
      expect(await guess()).toBe(CLOSE_CODES.unauthenticated);
      expect(await guess()).toBe(CLOSE_CODES.unauthenticated);
      await sleep(300);
      expect((await refusals()).filter((e) => e.type === "agent_credential_refused")).toHaveLength(1);
    });
  });

  describe("robustness", () => {
    it("answers a bad message with an error and keeps the connection", async () => {
      const a = await agent();
      a.sendRaw("{not json");
      expect(await a.next("error")).toMatchObject({
        code: "bad_message",
        message: "message is not valid JSON",
      });
      a.send({ type: "signal/offer", sessionId: "nope", sdp: 1 });
      expect((await a.next("error")).message).toMatch(/invalid message/);
      a.send({ type: "heartbeat/ping", t: 7 });
      expect(await a.next("heartbeat/pong")).toEqual({ type: "heartbeat/pong", t: 7 });
      a.close();
    });

    it("closes with 4009 on an oversize frame and 4010 on a binary frame", async () => {
      const big = await agent();
      big.sendRaw(
        JSON.stringify({ type: "signal/offer", sessionId: crypto.randomUUID(), sdp: "x".repeat(100 * 1024) }),
      );
      expect((await big.closedWith()).code).toBe(CLOSE_CODES.messageTooBig);
      const binary = await agent();
      binary.sendRaw(Buffer.from([1, 2, 3]));
      expect((await binary.closedWith()).code).toBe(CLOSE_CODES.protocolError);
    });

    it("closes a flooding connection with 4008", async () => {
      const flood = await agent();
      // Thousands of messages a second, yielding between frames so the client notices the close;
      // a client that keeps writing after the close frame may be cut off at the TCP level (1006).
      for (let i = 0; i < 2000 && !flood.closed; i++) {
        flood.send({ type: "heartbeat/ping", t: i });
        await new Promise((r) => setImmediate(r));
      }
      const { code } = await flood.closedWith();
      // Deno closes the TCP connection while the flood's unread frames are still queued, and the
      // kernel's reset can overtake the close frame: the client then sees 1006 instead of 4008.
      // Either way the flood is cut off — a missing limit would leave the socket open (timeout).
      expect(kind.name === "deno" ? [CLOSE_CODES.rateLimited, 1006] : [CLOSE_CODES.rateLimited]).toContain(
        code,
      );
      const healthy = await agent(d.seed.agentA2);
      healthy.send({ type: "heartbeat/ping", t: 1 });
      expect(await healthy.next("heartbeat/pong")).toMatchObject({ t: 1 });
      healthy.close();
    });

    it("closes a peer that stops answering heartbeats with 4000", async () => {
      const hung = await agent(d.seed.agentA2);
      hung.silent = true;
      expect(await hung.closedWith(6000)).toMatchObject({
        code: CLOSE_CODES.timeout,
        reason: expect.stringMatching(/heartbeat/),
      });
    });

    it("limits how many sessions one user may have open", async () => {
      const a = await agent();
      const open: { v: TestClient; sessionId: string }[] = [];
      for (let i = 0; i < 8; i++) {
        const { sessionId, ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA.agentId);
        const v = await viewer(ticket);
        await v.next("presence/welcome");
        open.push({ v, sessionId });
      }
      const { ticket } = await d.seed.openSession(d.seed.techA, d.seed.agentA.agentId);
      const ninth = await viewer(ticket);
      expect(await ninth.closedWith()).toMatchObject({
        code: CLOSE_CODES.forbidden,
        reason: expect.stringMatching(/too many/),
      });
      for (const { v, sessionId } of open) v.send({ type: "session/end", sessionId });
      a.close();
    });

    it("answers pings and keeps a quiet but alive connection open past the heartbeat", async () => {
      const a = await agent();
      await sleep(2_800); // > 2.5 heartbeats; the test client answers the server's pings
      expect(a.closed).toBeUndefined();
      a.close();
    });
  });
});
