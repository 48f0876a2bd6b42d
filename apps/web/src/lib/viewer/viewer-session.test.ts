/**
 * The viewer's session logic against the real signaling worker, the real API and database, and an
 * agent built from the protocol with werift (offerer: one sendonly video track, `input` and
 * `control` channels). Only the browser is missing: werift stands in for its RTCPeerConnection and
 * Node's own WebSocket for the browser's.
 */
import { createHmac } from "node:crypto";
import { authUserOf, createAuth, createSecretBox, hashPassword, type AuthUser } from "@rd/auth";
import { importTicketKey } from "@rd/auth/tickets";
import { createCaller, createEnrollmentCode, enrollAgent } from "@rd/api";
import { type DbHandle, Tenants, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import {
  DATA_LIMITS,
  parseControlMessage,
  parseInputMessage,
  type SignalMessage,
  type SignalMessageOf,
} from "@rd/protocol";
import { startNodeSignal, type NodeSignal } from "@rd/signal/node";
import { RTCPeerConnection as WeriftPeerConnection } from "werift";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { refusedControl, ViewerSession, type ViewerSessionEvents } from "./viewer-session.ts";
import type { ViewerState } from "./viewer-state.ts";
import { eventually } from "./eventually.ts";

const SECRET = "viewer-test-secret-0123456789abcdef0123";

type Answer = "accept" | "deny" | "ignore";

/**
 * An agent that speaks the protocol: consent as told, then one peer per admitted viewer (an
 * offer with a video track and the two channels) as the participants snapshots say who is there.
 * `reconnect()` opens a new signaling link that resumes its sessions, as the real agent does.
 */
class ProtocolAgent {
  socket!: WebSocket;
  readonly inputs: unknown[] = [];
  pc: WeriftPeerConnection | null = null;
  control: ReturnType<WeriftPeerConnection["createDataChannel"]> | null = null;
  private work: Promise<unknown> = Promise.resolve();
  private welcomed = false;
  private readonly sessions = new Set<string>();
  private readonly unanswered = new Set<string>();
  private readonly active = new Set<string>();
  private readonly snapshots = new Map<string, SignalMessageOf<"session/participants">>();
  private readonly offered = new Map<string, string>();
  private readonly url: string;
  private readonly credentials: { agentId: string; secret: string };
  private readonly answer: Answer;

  constructor(url: string, credentials: { agentId: string; secret: string }, answer: Answer) {
    this.url = url;
    this.credentials = credentials;
    this.answer = answer;
    this.open();
  }

  private send = (m: SignalMessage) => {
    if (this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(m));
  };

  private open() {
    this.welcomed = false;
    this.socket = new WebSocket(this.url);
    this.socket.addEventListener("open", () =>
      this.send({
        type: "presence/hello",
        v: 1,
        auth: { kind: "agent", agentId: this.credentials.agentId, secret: this.credentials.secret },
        resume: [...this.sessions],
      }),
    );
    this.socket.addEventListener("message", (event) =>
      this.receive(JSON.parse(String(event.data)) as SignalMessage),
    );
  }

  /** Drops the signaling link and opens a new one; the peer connection stays as it is. */
  reconnect() {
    this.socket.close();
    this.open();
  }

  private receive(m: SignalMessage) {
    const send = this.send;
    if (m.type === "presence/welcome") this.welcomed = true;
    if (m.type === "heartbeat/ping") send({ type: "heartbeat/pong", t: m.t });
    if (m.type === "session/request") {
      this.sessions.add(m.sessionId);
      if (this.answer === "ignore") return;
      send({ type: "session/prompt", sessionId: m.sessionId });
      // The request comes when the session is made; the person answers once the viewer is there.
      this.unanswered.add(m.sessionId);
    }
    if (
      m.type === "session/participants" &&
      this.unanswered.has(m.sessionId) &&
      m.participants.some((p) => p.connected)
    ) {
      this.unanswered.delete(m.sessionId);
      if (this.answer === "deny")
        return send({ type: "session/deny", sessionId: m.sessionId, reason: "denied_by_user" });
      send({ type: "session/accept", sessionId: m.sessionId });
    }
    // As the real agent: peers only once the session is active, for the latest snapshot it has.
    if (m.type === "session/state" && m.status === "active") {
      this.active.add(m.sessionId);
      this.reconcile(m.sessionId);
    }
    if (m.type === "session/participants") {
      this.snapshots.set(m.sessionId, m);
      this.reconcile(m.sessionId);
    }
    if (m.type === "signal/answer") {
      this.work = this.work.then(() => this.pc!.setRemoteDescription({ type: "answer", sdp: m.sdp }));
    }
    if (m.type === "signal/ice") {
      this.work = this.work.then(() => this.pc!.addIceCandidate(m.candidate ?? undefined)).catch(() => {});
    }
  }

  private reconcile(sessionId: string) {
    const snapshot = this.snapshots.get(sessionId);
    if (!snapshot || !this.active.has(sessionId)) return;
    for (const p of snapshot.participants) {
      if (!p.admitted) this.send({ type: "participant/admit", sessionId, participantId: p.id });
      if (p.admitted && p.connected && p.peer && this.offered.get(p.id) !== p.peer) {
        this.offered.set(p.id, p.peer);
        void this.offer(sessionId, p.id);
      }
    }
  }

  get ready() {
    return this.welcomed;
  }

  private async offer(sessionId: string, participantId: string) {
    const pc = new WeriftPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver("video", { direction: "sendonly" });
    const input = pc.createDataChannel("input", { ordered: true });
    input.onmessage = (event) => this.inputs.push(parseInputMessage(String(event.data)));
    this.control = pc.createDataChannel("control", { ordered: true });
    this.control.onopen = () =>
      this.control!.send(JSON.stringify({ type: "control/screen", width: 1920, height: 1080 }));
    pc.onicecandidate = ({ candidate }) =>
      this.send({
        type: "signal/ice",
        sessionId,
        participantId,
        candidate: candidate
          ? {
              candidate: candidate.candidate,
              sdpMid: candidate.sdpMid ?? null,
              sdpMLineIndex: candidate.sdpMLineIndex ?? null,
            }
          : null,
      });
    await pc.setLocalDescription(await pc.createOffer());
    this.send({ type: "signal/offer", sessionId, participantId, sdp: pc.localDescription!.sdp });
  }

  close() {
    this.socket.close();
    void this.pc?.close();
  }
}

describe("ViewerSession against the real signaling worker", () => {
  let db: DbHandle;
  let signal: NodeSignal;
  let url: string;
  let tech: AuthUser;
  let caller: ReturnType<typeof createCaller>;
  let tenantId: string;
  const open: { close(): unknown }[] = [];
  let port = 0;

  /** A worker on `port` (0: any) with short timings; a restart is a new one on the same port. */
  const startWorker = (port: number, workerId: string) =>
    startNodeSignal({
      env: { RD_SECRET: SECRET, LOG_LEVEL: "silent" },
      database: db,
      tuning: { heartbeatMs: 1_000, offlineGraceMs: 300, resumeGraceMs: 1_000, presenceRefreshMs: 1_000 },
      port,
      workerId,
    });

  beforeAll(async () => {
    db = await testDatabases()[0]!.create();
    signal = await startWorker(0, "viewer-test");
    port = signal.port;
    url = `ws://127.0.0.1:${port}/ws`;
    const [tenant] = await db.db.insert(Tenants).values({ name: "Viewer" }).returning();
    tenantId = tenant!.id;
    const [user] = await db.db
      .insert(Users)
      .values({
        tenantId,
        email: "tech@viewer.example",
        name: "Tech",
        role: "technician",
        passwordHash: await hashPassword("irrelevant-password"),
      })
      .returning();
    tech = authUserOf(user!);
    const auth = createAuth(db.db, { secureCookies: false });
    caller = createCaller({
      db: db.db,
      auth,
      user: tech,
      ticketKey: await importTicketKey(SECRET),
      secretBox: createSecretBox(SECRET, "totp"),
    });
  }, 60_000);

  afterAll(async () => {
    await signal?.close();
    await db?.close();
  });

  afterEach(() => {
    for (const c of open.splice(0)) c.close();
  });

  async function onlineAgent(answer: Answer, agentUrl = url) {
    const { code } = await createEnrollmentCode(db.db, { tenantId, createdBy: tech.id, expiresInMinutes: 5 });
    const enrolled = await enrollAgent(db.db, code, {
      name: "pc",
      hostname: "pc",
      os: "linux",
      version: "t",
    });
    if (!enrolled.ok) throw new Error(enrolled.message);
    const agent = new ProtocolAgent(agentUrl, enrolled, answer);
    open.push(agent);
    await eventually(() => agent.ready, "the agent's welcome");
    return { agent, agentId: enrolled.agentId };
  }

  function viewer(
    sessionId: string,
    ticket: string | (() => Promise<string>),
    signalUrl = url,
    ice: { page?: RTCIceServer[]; configs?: RTCConfiguration[] } = {},
  ) {
    const states: [ViewerState, string | undefined][] = [];
    const controls: unknown[] = [];
    const tracks: string[] = [];
    let inputReady = false;
    let orphaned = false;
    const events: ViewerSessionEvents = {
      onOrphaned: () => (orphaned = true),
      onState: (state, reason) => states.push([state, reason]),
      onTrack: (event) => tracks.push(event.track.kind),
      onControl: (message) => controls.push(message),
      onInputReady: (ready) => (inputReady = ready),
    };
    let first = true;
    const session = new ViewerSession({
      sessionId,
      // The first connection uses the ticket it was given; a reconnect asks the API, as the page does.
      getTicket:
        typeof ticket === "function"
          ? ticket
          : async () => {
              if (!first) return (await caller.sessions.ticket({ id: sessionId })).ticket;
              first = false;
              return ticket;
            },
      signalUrl,
      iceServers: ice.page ?? [],
      events,
      tuning: { endConfirmMs: 1_000, reconnectFirstMs: 100, reconnectMaxMs: 500 },
      // The configuration is recorded, not applied: the peers are on this machine and need no
      // servers, and werift's own config type differs in details.
      createPeerConnection: (config) => {
        ice.configs?.push(config);
        return new WeriftPeerConnection({ iceServers: [] }) as unknown as RTCPeerConnection;
      },
    });
    open.push({ close: () => session.disconnect() });
    session.start();
    return { session, states, controls, tracks, inputReady: () => inputReady, orphaned: () => orphaned };
  }

  it("goes from consent to live, carries input and control, and ends as the technician's doing", async () => {
    const { agent, agentId } = await onlineAgent("accept");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);

    await eventually(() => v.session.state === "live", "live");
    expect(v.states.map(([s]) => s)).toEqual(["awaiting_consent", "negotiating", "live"]);
    expect(v.tracks).toEqual(["video"]);
    await eventually(() => v.inputReady(), "the input channel");
    expect(v.session.sendInput({ type: "input/pointer", action: "down", x: 0.5, y: 0.25, button: 0 })).toBe(
      true,
    );
    await eventually(() => agent.inputs.length === 1, "the agent to get input");
    expect(agent.inputs[0]).toEqual({
      ok: true,
      message: { type: "input/pointer", action: "down", x: 0.5, y: 0.25, button: 0 },
    });
    await eventually(() => v.controls.length === 1, "the agent's screen size");
    expect(v.controls[0]).toEqual({ type: "control/screen", width: 1920, height: 1080 });

    v.session.end();
    await eventually(() => v.session.state === "ended", "the end");
    expect(v.session.reason).toBe("ended_by_you");
    expect(await caller.sessions.byId({ id: row.id })).toMatchObject({
      status: "ended",
      endReason: "ended_by_technician",
    });
    expect(v.orphaned()).toBe(false);
  }, 30_000);

  it("gives its peer connection the worker's TURN server with its own credential, then the page's", async () => {
    const turn = { secret: "viewer-test-turn-secret-0123456789", url: "turn:127.0.0.1:3478?transport=udp" };
    const relayed = await startNodeSignal({
      env: { RD_SECRET: SECRET, LOG_LEVEL: "silent", RD_TURN_SECRET: turn.secret, RD_TURN_URLS: turn.url },
      database: db,
      port: 0,
      workerId: "viewer-turn",
    });
    try {
      const relayedUrl = `ws://127.0.0.1:${relayed.port}/ws`;
      const { agentId } = await onlineAgent("accept", relayedUrl);
      const { session: row, ticket } = await caller.sessions.create({ agentId });
      const configs: RTCConfiguration[] = [];
      const page = [{ urls: "stun:stun.example.org:3478" }];
      const v = viewer(row.id, ticket, relayedUrl, { page, configs });
      await eventually(() => v.session.state === "live", "live");

      expect(configs).toHaveLength(1);
      const [fromWorker, fromPage] = configs[0]!.iceServers!;
      expect(fromPage).toEqual(page[0]);
      expect(fromWorker!.urls).toEqual([turn.url]);
      expect(fromWorker!.username).toMatch(new RegExp(`^\\d+:${v.session.participantId}$`));
      expect(fromWorker!.credential).toBe(
        createHmac("sha1", turn.secret).update(fromWorker!.username!).digest("base64"),
      );
      v.session.disconnect();
    } finally {
      for (const c of open.splice(0)) c.close();
      await relayed.close();
    }
  }, 30_000);

  it("shows that the person at the machine denied the request", async () => {
    const { agentId } = await onlineAgent("deny");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);
    await eventually(() => v.session.state === "denied", "the denial");
    expect(v.states).toEqual([
      ["awaiting_consent", undefined],
      ["denied", "denied_by_user"],
    ]);
  });

  it("says the agent went offline when it drops mid-session", async () => {
    const { agent, agentId } = await onlineAgent("accept");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);
    await eventually(() => v.session.state === "live", "live");
    agent.close();
    await eventually(() => v.session.state === "ended", "the end");
    expect(v.session.reason).toBe("agent_offline");
  }, 30_000);

  it("keeps the picture through a worker restart: the link comes back with a fresh ticket", async () => {
    const { agent, agentId } = await onlineAgent("accept");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);
    await eventually(() => v.session.state === "live", "live");
    await eventually(() => v.inputReady(), "the input channel");
    const { participantId } = v.session;

    await signal.close();
    signal = await startWorker(port, "viewer-test-2");
    agent.reconnect();
    await eventually(
      () => v.session.participants?.participants.some((p) => p.connected) === true,
      "the rejoin",
    );
    // The same participant, the same live picture: no renegotiation, no state change.
    expect(v.session.participantId).toBe(participantId);
    expect(v.states.map(([s]) => s)).toEqual(["awaiting_consent", "negotiating", "live"]);
    expect(v.session.sendInput({ type: "input/pointer", action: "move", x: 0.1, y: 0.2 })).toBe(true);
    await eventually(() => agent.inputs.length === 1, "input after the restart");
    await new Promise((r) => setTimeout(r, 2_500)); // past the grace period and a sweep
    expect((await caller.sessions.byId({ id: row.id })).status).toBe("active");
    expect((await caller.sessions.byId({ id: row.id })).events.map((e) => e.type)).toContain(
      "session_resumed",
    );
    v.session.end();
    await eventually(() => v.session.state === "ended", "the end");
  }, 30_000);

  it("comes back after a worker restart to a session that ended meanwhile, and says how it ended", async () => {
    const { agent, agentId } = await onlineAgent("accept");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    let first = true;
    // The race a restart opens: the page gets its fresh ticket, then the session ends (the sweep,
    // someone else) before the ticket reaches the worker. The worker must still say how it ended.
    const v = viewer(row.id, async () => {
      if (first) return ((first = false), ticket);
      const fresh = (await caller.sessions.ticket({ id: row.id })).ticket;
      await caller.sessions.end({ id: row.id });
      return fresh;
    });
    await eventually(() => v.session.state === "live", "live");

    await signal.close();
    signal = await startWorker(port, "viewer-test-3");
    agent.reconnect();
    await eventually(() => v.session.state === "ended", "the end");
    expect(v.session.reason).toBe("ended_by_technician");
  }, 30_000);

  it("leaves on Leave; with nobody else to drive, the session ends", async () => {
    const { agentId } = await onlineAgent("accept");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);
    await eventually(() => v.session.state === "live", "live");
    v.session.leave();
    expect([v.session.state, v.session.reason]).toEqual(["ended", "left"]);
    const deadline = Date.now() + 5000;
    let detail = await caller.sessions.byId({ id: row.id });
    while (detail.status === "active" && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      detail = await caller.sessions.byId({ id: row.id });
    }
    expect(detail).toMatchObject({ status: "ended", endReason: "viewer_left" });
  }, 30_000);

  it("refuses a ticket that was used already", async () => {
    const { agentId } = await onlineAgent("ignore");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    // Whichever hello the worker reads second is the replay.
    const both = [viewer(row.id, ticket), viewer(row.id, ticket)];
    await eventually(() => both.some((v) => v.session.state === "failed"), "the refusal");
    const refused = both.find((v) => v.session.state === "failed")!;
    expect(refused.session.reason).toBe("signaling_unauthenticated");
    // Refused at the door, it could not end the session itself: it asks for that to be done.
    expect(refused.orphaned()).toBe(true);
    expect(both.find((v) => v !== refused)!.session.state).toBe("connecting");
  });

  it("answers the worker's heartbeats, so a long wait for consent keeps its link", async () => {
    const { agentId } = await onlineAgent("ignore");
    const { session: row, ticket } = await caller.sessions.create({ agentId });
    const v = viewer(row.id, ticket);
    // The worker pings every second here and closes a peer silent for 2.5 s.
    await new Promise((r) => setTimeout(r, 3_500));
    expect(v.session.state).toBe("connecting");
  });

  it("says the signaling server cannot be reached when nothing listens", async () => {
    const v = viewer("7b0f2c34-5d6e-4f70-8a91-b2c3d4e5f607", "x".repeat(32), "ws://127.0.0.1:9/ws");
    await eventually(() => v.session.state === "failed", "the failure");
    expect(v.session.reason).toBe("signaling_unreachable");
  });
});

describe("refusedControl", () => {
  const refusal = (frame: string) => {
    const parsed = parseControlMessage(frame);
    if (parsed.ok) throw new Error("expected a refusal");
    return refusedControl(frame, parsed.error);
  };

  it("names the clipboard limit when the agent's clipboard is too long", () => {
    const text = "x".repeat(DATA_LIMITS.clipboardChars + 1);
    expect(refusal(JSON.stringify({ type: "control/clipboard", text }))).toBe(
      "The remote clipboard holds more than 65,536 characters, so it was not copied.",
    );
  });

  it("passes on the parser's words for anything else", () => {
    expect(refusal(JSON.stringify({ type: "control/teleport" }))).toMatch(
      /^A message from the agent was ignored \(/,
    );
  });
});
