/**
 * The signaling hub: the runtime-neutral core of the worker. It authenticates each connection from
 * its first message, routes messages only between the two peers of one session (through the bus,
 * so the peers may sit on different workers), drives the session state machine, keeps agent
 * presence, and enforces the abuse limits. Sockets come in through the small `PeerSocket` interface.
 */
import { verifyTicket } from "@rd/auth/tickets";
import {
  CLOSE_CODES,
  isTerminalSessionState,
  parseSignalMessage,
  SIGNAL_LIMITS,
  type SessionState,
  type SessionTransition,
  type SignalMessage,
  TokenBucket,
} from "@rd/protocol";
import { type Bus, type BusEnvelope, channels } from "./bus.ts";
import type { SignalTuning } from "./config.ts";
import type { Logger } from "@rd/log";
import type { ReplayGuard } from "./replay-guard.ts";
import type { AgentIdentity, SignalStore } from "./store.ts";

/** What the hub needs of a WebSocket; the Node and Deno entries adapt theirs to it. */
export interface PeerSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet sent; how a slow reader shows. */
  readonly bufferedAmount: number;
}

type Identity =
  | ({ role: "agent" } & AgentIdentity)
  | {
      role: "technician";
      tenantId: string;
      userId: string;
      sessionId: string;
      agentId: string;
    };

interface Connection {
  id: string;
  socket: PeerSocket;
  identity?: Identity;
  /** Sessions this agent connection was asked to join (agents only). */
  sessions: Set<string>;
  /** For a technician: the worker its agent peer is on, once known. */
  peerWorker?: string;
  lastHeard: number;
  protocolErrors: number;
  messages: TokenBucket;
  bytes: TokenBucket;
  helloTimer?: ReturnType<typeof setTimeout>;
  unsubscribe?: () => Promise<void>;
  closed: boolean;
  /** Which heartbeat slice visits this connection. */
  slice: number;
  /** Set when this connection was closed because a newer one replaced it. */
  replaced?: boolean;
  /**
   * Messages are handled one at a time, in order: a deny must not overtake its prompt. While a
   * message's work (a database transition, say) is in flight, later ones wait on this promise.
   */
  pending?: Promise<void>;
}

export interface HubDeps {
  workerId: string;
  store: SignalStore;
  bus: Bus;
  replayGuard: ReplayGuard;
  ticketKey: CryptoKey;
  tuning: SignalTuning;
  log: Logger;
}

export interface PeerHandle {
  onMessage(data: string | ArrayBuffer | Uint8Array): void;
  onClose(): void;
}

/**
 * The heartbeat visits one slice of the connections per tick: up to 60 slices, a tick every 250 ms
 * at the default interval, so 2,000 connections cost ~33 pings (and pongs) per tick instead of a
 * burst that delays relaying. Ticks stay ≥ 50 ms apart when the interval is short (tests).
 */
function heartbeatSlices(heartbeatMs: number) {
  return Math.max(1, Math.min(60, Math.floor(heartbeatMs / 50)));
}

const TRANSITION_FOR: Partial<Record<SignalMessage["type"], SessionTransition>> = {
  "session/prompt": "askConsent",
  "session/accept": "start",
  "session/deny": "deny",
  "session/end": "end",
};

export class SignalHub {
  private readonly connections = new Set<Connection>();
  private readonly agents = new Map<string, Connection>();
  private readonly viewers = new Map<string, Connection>();
  /** Open viewer connections per user, for the per-user limit. */
  private readonly viewersPerUser = new Map<string, number>();
  private readonly offlineTimers = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly workersSeen = new Map<string, number>();
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private unsubscribeWorkers?: () => Promise<void>;
  private nextId = 0;
  private heartbeatTick = 0;
  private stopping = false;

  private readonly deps: HubDeps;
  private readonly slices: number;

  constructor(deps: HubDeps) {
    this.deps = deps;
    this.slices = heartbeatSlices(deps.tuning.heartbeatMs);
  }

  async start(): Promise<void> {
    const { tuning, bus, workerId } = this.deps;
    this.unsubscribeWorkers = await bus.subscribe(channels.workers, (envelope) => {
      if (envelope.kind === "worker-alive" && envelope.workerId !== workerId) {
        this.workersSeen.set(envelope.workerId, Date.now());
      }
    });
    const announce = () =>
      void bus.publish(channels.workers, { kind: "worker-alive", workerId }).catch(() => {});
    announce();
    this.timers.push(
      // In slices: a ping to every connection at once would stall relaying for a moment.
      setInterval(() => this.heartbeat(), tuning.heartbeatMs / this.slices),
      setInterval(announce, tuning.workerHeartbeatMs),
      setInterval(() => this.checkPeerWorkers(), tuning.workerHeartbeatMs),
      setInterval(() => void this.keepPresence(), tuning.presenceRefreshMs),
    );
  }

  /** Closes every socket with "going away" and stops the timers. */
  async stop(): Promise<void> {
    this.stopping = true;
    this.timers.forEach(clearInterval);
    this.offlineTimers.forEach(clearTimeout);
    await this.unsubscribeWorkers?.();
    for (const connection of this.connections)
      this.close(connection, CLOSE_CODES.goingAway, "worker shutting down");
  }

  /** Tells both peers of a session that something outside the worker (the API) ended it. */
  announceEnded(event: { sessionId: string; agentId: string; reason: string }): Promise<void> {
    return this.broadcastState(event.sessionId, event.agentId, "ended", event.reason);
  }

  get stats() {
    return { connections: this.connections.size, agents: this.agents.size, viewers: this.viewers.size };
  }

  connect(socket: PeerSocket): PeerHandle {
    const { tuning } = this.deps;
    const connection: Connection = {
      id: `${this.deps.workerId}-${(this.nextId++).toString(36)}`,
      socket,
      sessions: new Set(),
      lastHeard: Date.now(),
      protocolErrors: 0,
      messages: new TokenBucket(tuning.messagesPerSecond, tuning.messageBurst),
      bytes: new TokenBucket(tuning.bytesPerSecond, tuning.byteBurst),
      closed: false,
      slice: this.nextId % this.slices,
    };
    connection.helloTimer = setTimeout(
      () => this.close(connection, CLOSE_CODES.timeout, "no presence/hello within the time limit"),
      tuning.helloTimeoutMs,
    );
    this.connections.add(connection);
    return {
      onMessage: (data) => this.enqueue(connection, data),
      onClose: () =>
        void this.disconnected(connection).catch((error: unknown) => this.crashed(connection, error)),
    };
  }

  // ——— Receiving ———

  /**
   * Handles a message now when nothing is pending, else after what is: in order either way. Relayed
   * negotiation finishes synchronously, so the common case allocates no promise chain.
   */
  private enqueue(connection: Connection, data: string | ArrayBuffer | Uint8Array) {
    if (connection.pending) {
      return this.track(
        connection,
        connection.pending.then(() => this.receive(connection, data)),
      );
    }
    try {
      const work = this.receive(connection, data);
      if (work) this.track(connection, work);
    } catch (error) {
      this.crashed(connection, error);
    }
  }

  private track(connection: Connection, work: Promise<void>) {
    const settled: Promise<void> = work
      .catch((error: unknown) => this.crashed(connection, error))
      .then(() => {
        if (connection.pending === settled) connection.pending = undefined;
      });
    connection.pending = settled;
  }

  private receive(connection: Connection, data: string | ArrayBuffer | Uint8Array): Promise<void> | void {
    if (connection.closed) return;
    connection.lastHeard = Date.now();
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (!connection.messages.take(1) || !connection.bytes.take(size)) {
      return this.close(connection, CLOSE_CODES.rateLimited, "too many messages; slow down");
    }
    if (size > SIGNAL_LIMITS.maxFrameBytes) {
      return this.close(
        connection,
        CLOSE_CODES.messageTooBig,
        `messages are limited to ${SIGNAL_LIMITS.maxFrameBytes} bytes`,
      );
    }
    if (typeof data !== "string") {
      return this.close(connection, CLOSE_CODES.protocolError, "binary frames are not part of the protocol");
    }
    const parsed = parseSignalMessage(data);
    if (!parsed.ok) return this.refuse(connection, "bad_message", parsed.error);
    const message = parsed.message;

    if (!connection.identity) {
      if (message.type !== "presence/hello") {
        return this.close(
          connection,
          CLOSE_CODES.unauthenticated,
          "the first message must be presence/hello",
        );
      }
      return this.hello(connection, message);
    }
    if (message.type === "heartbeat/ping")
      return this.send(connection, { type: "heartbeat/pong", t: message.t });
    if (message.type === "heartbeat/pong") return;

    const identity = connection.identity;
    if (identity.role === "technician") return this.fromTechnician(connection, identity, message, data);
    return this.fromAgent(connection, identity, message, data);
  }

  private fromTechnician(
    connection: Connection,
    identity: Extract<Identity, { role: "technician" }>,
    message: SignalMessage,
    raw: string,
  ): Promise<void> | void {
    if (!("sessionId" in message) || message.sessionId !== identity.sessionId) {
      return this.refuse(
        connection,
        "forbidden",
        "you can only send messages for the session your ticket is for",
      );
    }
    switch (message.type) {
      case "signal/offer":
      case "signal/answer":
      case "signal/ice":
        return this.relay(channels.agent(identity.agentId), identity.sessionId, raw);
      case "session/end":
        return this.applyTransition(
          identity.tenantId,
          identity.sessionId,
          "end",
          { type: "user", id: identity.userId },
          "ended_by_technician",
        );
      default:
        return this.refuse(connection, "forbidden", `${message.type} is not a message a viewer may send`);
    }
  }

  private fromAgent(
    connection: Connection,
    identity: Extract<Identity, { role: "agent" }>,
    message: SignalMessage,
    raw: string,
  ): Promise<void> | void {
    const sessionId = "sessionId" in message ? message.sessionId : undefined;
    if (!sessionId || !connection.sessions.has(sessionId)) {
      return this.refuse(connection, "forbidden", "this agent is not a peer of that session");
    }
    const actor = { type: "agent" as const, id: identity.agentId };
    switch (message.type) {
      case "signal/offer":
      case "signal/answer":
      case "signal/ice":
        return this.relay(channels.viewer(sessionId), sessionId, raw);
      case "session/prompt":
      case "session/accept":
      case "session/deny":
      case "session/end": {
        const reason =
          message.type === "session/deny"
            ? message.reason
            : message.type === "session/end"
              ? "ended_by_agent"
              : undefined;
        return this.applyTransition(
          identity.tenantId,
          sessionId,
          TRANSITION_FOR[message.type]!,
          actor,
          reason,
        );
      }
      default:
        return this.refuse(connection, "forbidden", `${message.type} is not a message an agent may send`);
    }
  }

  // ——— Authentication ———

  private async hello(connection: Connection, message: Extract<SignalMessage, { type: "presence/hello" }>) {
    clearTimeout(connection.helloTimer);
    const { auth } = message;
    if (auth.kind === "agent") {
      const agent = await this.deps.store.authenticateAgent(auth.agentId, auth.secret);
      if (!agent)
        return this.close(
          connection,
          CLOSE_CODES.unauthenticated,
          "unknown agent or wrong secret; re-enroll it",
        );
      if (connection.closed) return;
      return this.agentJoined(connection, agent);
    }
    const checked = await verifyTicket(this.deps.ticketKey, auth.ticket);
    if (!checked.ok) return this.close(connection, CLOSE_CODES.unauthenticated, checked.message);
    const { claims } = checked;
    if (!(await this.deps.replayGuard.claim(claims.jti, claims.exp * 1000))) {
      return this.close(
        connection,
        CLOSE_CODES.unauthenticated,
        "this ticket was used already; ask the API for a new one",
      );
    }
    const session = await this.deps.store.sessionForTicket(claims.tid, claims.sid);
    if (!session || session.technicianId !== claims.uid) {
      return this.close(connection, CLOSE_CODES.forbidden, "the ticket's session does not exist");
    }
    if (isTerminalSessionState(session.status)) {
      return this.close(
        connection,
        CLOSE_CODES.sessionEnded,
        `the session has already ${session.status === "ended" ? "ended" : `been ${session.status}`}`,
      );
    }
    if ((this.viewersPerUser.get(claims.uid) ?? 0) >= this.deps.tuning.maxConnectionsPerUser) {
      return this.close(connection, CLOSE_CODES.forbidden, "too many open sessions for this user");
    }
    if (connection.closed) return;
    const identity: Identity = {
      role: "technician",
      tenantId: claims.tid,
      userId: claims.uid,
      sessionId: claims.sid,
      agentId: session.agentId,
    };
    connection.identity = identity;
    this.viewersPerUser.set(claims.uid, (this.viewersPerUser.get(claims.uid) ?? 0) + 1);
    const previous = this.viewers.get(claims.sid);
    if (previous) this.replace(previous);
    this.viewers.set(claims.sid, connection);
    connection.unsubscribe = await this.deps.bus.subscribe(channels.viewer(claims.sid), (envelope) =>
      this.toViewer(connection, envelope),
    );
    this.send(connection, {
      type: "presence/welcome",
      role: "technician",
      peerId: connection.id,
      heartbeatMs: this.deps.tuning.heartbeatMs,
      sessionId: claims.sid,
    });
    if (!session.agentOnline) {
      await this.applyTransition(claims.tid, claims.sid, "end", { type: "system" }, "agent_offline");
      return;
    }
    if (session.status === "pending") {
      await this.deliver(channels.agent(session.agentId), {
        type: "session/request",
        sessionId: claims.sid,
        technician: { id: claims.uid, name: claims.name, email: claims.email },
        consent: session.consent,
      });
    } else {
      this.send(connection, { type: "session/state", sessionId: claims.sid, status: session.status });
    }
  }

  private async agentJoined(connection: Connection, agent: AgentIdentity) {
    const { bus, store, workerId } = this.deps;
    connection.identity = { role: "agent", ...agent };
    const previous = this.agents.get(agent.agentId);
    if (previous) this.replace(previous);
    this.agents.set(agent.agentId, connection);
    clearTimeout(this.offlineTimers.get(agent.agentId));
    this.offlineTimers.delete(agent.agentId);
    connection.unsubscribe = await bus.subscribe(channels.agent(agent.agentId), (envelope) =>
      this.toAgent(connection, envelope),
    );
    await bus.publish(channels.agent(agent.agentId), {
      kind: "agent-connected",
      agentId: agent.agentId,
      connectionId: connection.id,
      workerId,
    });
    await store.agentOnline(agent);
    this.send(connection, {
      type: "presence/welcome",
      role: "agent",
      peerId: connection.id,
      heartbeatMs: this.deps.tuning.heartbeatMs,
    });
    this.deps.log.info({ agentId: agent.agentId, connection: connection.id }, "agent connected");
  }

  // ——— Delivering ———

  /**
   * Not awaited: the bus keeps one connection's publishes in order, and the sender need not wait
   * for delivery before its next message.
   */
  private relay(channel: string, sessionId: string, raw: string) {
    this.deps.bus
      .publish(channel, { kind: "relay", sessionId, raw, fromWorker: this.deps.workerId })
      .catch((error: unknown) => this.deps.log.warn({ err: error, channel }, "relay publish failed"));
  }

  private async deliver(channel: string, message: SignalMessage): Promise<void> {
    await this.deps.bus.publish(channel, { kind: "deliver", message, fromWorker: this.deps.workerId });
  }

  private toAgent(connection: Connection, envelope: BusEnvelope) {
    if (connection.closed) return;
    if (envelope.kind === "agent-connected") {
      if (envelope.connectionId !== connection.id) this.replace(connection);
      return;
    }
    if (envelope.kind === "relay") {
      if (connection.sessions.has(envelope.sessionId)) this.sendRaw(connection, envelope.raw);
      return;
    }
    if (envelope.kind !== "deliver") return;
    const { message } = envelope;
    if (message.type === "session/request") connection.sessions.add(message.sessionId);
    // Only traffic of sessions this connection joined: a late message of an older connection's
    // session (still in flight on the bus) is not this connection's business.
    else if (!("sessionId" in message) || !message.sessionId || !connection.sessions.has(message.sessionId))
      return;
    if (message.type === "session/state" && isTerminalSessionState(message.status)) {
      connection.sessions.delete(message.sessionId);
    }
    this.send(connection, message);
  }

  private toViewer(connection: Connection, envelope: BusEnvelope) {
    if (connection.closed) return;
    if (envelope.kind === "relay") {
      // Negotiation comes from the agent's worker: that is the worker to watch.
      connection.peerWorker = envelope.fromWorker;
      this.sendRaw(connection, envelope.raw);
      return;
    }
    if (envelope.kind !== "deliver") return;
    const { message } = envelope;
    // Consent answers come from the agent's worker too.
    if (
      message.type === "session/state" &&
      (message.status === "awaiting_consent" || message.status === "active")
    ) {
      connection.peerWorker = envelope.fromWorker;
    }
    this.send(connection, message);
    if (message.type === "session/state" && isTerminalSessionState(message.status)) {
      this.close(
        connection,
        CLOSE_CODES.sessionEnded,
        `session ${message.status}${message.reason ? `: ${message.reason}` : ""}`,
      );
    }
  }

  /** Moves the session and tells both peers its new state, wherever they are connected. */
  private async applyTransition(
    tenantId: string,
    sessionId: string,
    transition: SessionTransition,
    actor: { type: "user" | "agent" | "system"; id?: string },
    reason?: string,
  ): Promise<void> {
    const result = await this.deps.store.transition({
      tenantId,
      sessionId,
      transition,
      actor,
      ...(reason ? { reason } : {}),
    });
    if (!result.ok) {
      this.deps.log.debug({ sessionId, transition, why: result.message }, "transition not applied");
      return;
    }
    await this.broadcastState(sessionId, result.agentId, result.status, reason);
  }

  /** Tells both peers of a session its state, wherever they are connected. */
  private async broadcastState(sessionId: string, agentId: string, status: SessionState, reason?: string) {
    const state: SignalMessage = { type: "session/state", sessionId, status, ...(reason ? { reason } : {}) };
    await Promise.all([
      this.deliver(channels.viewer(sessionId), state),
      this.deliver(channels.agent(agentId), state),
    ]);
  }

  private send(connection: Connection, message: SignalMessage) {
    this.sendRaw(connection, JSON.stringify(message));
  }

  /** Sends unless the peer reads too slowly; then it is closed rather than buffered without bound. */
  private sendRaw(connection: Connection, text: string) {
    if (connection.closed) return;
    if (connection.socket.bufferedAmount > this.deps.tuning.maxBufferedBytes) {
      return this.close(connection, CLOSE_CODES.slowConsumer, "reading too slowly; messages were piling up");
    }
    try {
      connection.socket.send(text);
    } catch {
      this.close(connection, CLOSE_CODES.goingAway, "send failed");
    }
  }

  private refuse(connection: Connection, code: string, message: string) {
    connection.protocolErrors += 1;
    if (connection.protocolErrors > this.deps.tuning.maxProtocolErrors) {
      return this.close(connection, CLOSE_CODES.protocolError, "too many invalid messages");
    }
    this.send(connection, { type: "error", code, message: message.slice(0, 500) });
  }

  // ——— Leaving ———

  private replace(connection: Connection) {
    connection.replaced = true;
    this.close(connection, CLOSE_CODES.replaced, "replaced by a newer connection");
  }

  private close(connection: Connection, code: number, reason: string) {
    if (connection.closed) return;
    connection.closed = true;
    clearTimeout(connection.helloTimer);
    try {
      connection.socket.close(code, reason.slice(0, 120));
    } catch {
      // already gone
    }
    void this.disconnected(connection).catch((error: unknown) => this.crashed(connection, error));
  }

  private disconnectedOnce = new WeakSet<Connection>();

  /** Runs once per connection, whether it closed itself or was closed. */
  private async disconnected(connection: Connection): Promise<void> {
    if (this.disconnectedOnce.has(connection)) return;
    this.disconnectedOnce.add(connection);
    connection.closed = true;
    clearTimeout(connection.helloTimer);
    this.connections.delete(connection);
    await connection.unsubscribe?.();
    const identity = connection.identity;
    if (!identity) return;
    if (identity.role === "technician") {
      if (this.viewers.get(identity.sessionId) === connection) this.viewers.delete(identity.sessionId);
      const open = (this.viewersPerUser.get(identity.userId) ?? 1) - 1;
      if (open > 0) this.viewersPerUser.set(identity.userId, open);
      else this.viewersPerUser.delete(identity.userId);
      if (!connection.replaced) {
        await this.applyTransition(
          identity.tenantId,
          identity.sessionId,
          "end",
          { type: "user", id: identity.userId },
          "viewer_left",
        );
      }
      return;
    }
    if (this.agents.get(identity.agentId) === connection) this.agents.delete(identity.agentId);
    for (const sessionId of connection.sessions) {
      await this.applyTransition(identity.tenantId, sessionId, "end", { type: "system" }, "agent_offline");
    }
    // Stopping: the agents will reconnect to another worker; their presence is that worker's business.
    if (connection.replaced || this.stopping) return;
    // Debounce: a flapping link that comes back within the grace period leaves no trace.
    const disconnectedAt = new Date();
    clearTimeout(this.offlineTimers.get(identity.agentId));
    this.offlineTimers.set(
      identity.agentId,
      setTimeout(() => {
        this.offlineTimers.delete(identity.agentId);
        if (this.agents.has(identity.agentId)) return;
        void this.deps.store
          .agentOffline(identity, disconnectedAt)
          .catch((error: unknown) => this.crashed(connection, error));
      }, this.deps.tuning.offlineGraceMs),
    );
    this.deps.log.info({ agentId: identity.agentId, connection: connection.id }, "agent disconnected");
  }

  private crashed(connection: Connection, error: unknown) {
    this.deps.log.error({ err: error, connection: connection.id }, "unexpected error handling a connection");
    if (!connection.closed) this.close(connection, 1011, "internal error");
  }

  // ——— Timers ———

  /** Pings every connection; one that stayed silent too long is dead and gets closed. */
  private heartbeat() {
    const slice = this.heartbeatTick++ % this.slices;
    const deadline = Date.now() - this.deps.tuning.heartbeatMs * 2.5;
    for (const connection of this.connections) {
      if (connection.slice !== slice || !connection.identity) continue;
      if (connection.lastHeard < deadline)
        this.close(connection, CLOSE_CODES.timeout, "no heartbeat from the peer");
      else this.send(connection, { type: "heartbeat/ping", t: Date.now() });
    }
  }

  /** A viewer whose agent sits on a worker that stopped announcing itself has lost its peer. */
  private checkPeerWorkers() {
    const deadline = Date.now() - this.deps.tuning.workerDeadAfterMs;
    for (const connection of this.viewers.values()) {
      const peer = connection.peerWorker;
      if (!peer || peer === this.deps.workerId || connection.identity?.role !== "technician") continue;
      if ((this.workersSeen.get(peer) ?? 0) < deadline) {
        const { tenantId, sessionId } = connection.identity;
        connection.peerWorker = undefined;
        this.deps.log.warn({ sessionId, worker: peer }, "the agent's worker went silent; ending the session");
        void this.applyTransition(tenantId, sessionId, "end", { type: "system" }, "agent_offline");
      }
    }
  }

  /** Keeps this worker's agents fresh in the database and marks those of dead workers offline. */
  private async keepPresence() {
    try {
      await this.deps.store.touchAgents([...this.agents.keys()]);
      await this.deps.store.sweepStaleAgents(new Date(Date.now() - this.deps.tuning.presenceRefreshMs * 3));
    } catch (error) {
      this.deps.log.warn({ err: error }, "presence refresh failed");
    }
  }
}
