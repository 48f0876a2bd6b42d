/**
 * The signaling hub: the runtime-neutral core of the worker. It decodes every frame (limits first,
 * then the protocol's parser), keeps each connection's lifecycle (hub/connection.ts), and dispatches
 * by message domain: presence (who a connection is), session control (what changes a session, and
 * the control feed that says it changed), relay (negotiation between the agent and one viewer),
 * liveness (heartbeats, grace periods, sweeps), clipboard audit (what an agent's clipboard policy
 * decided, into the audit trail), all writing through one delivery module. Sockets come
 * in through the small `PeerSocket` interface.
 */
import {
  CLOSE_CODES,
  parseSignalMessage,
  SIGNAL_LIMITS,
  type SignalMessage,
  type SignalMessageOf,
  TokenBucket,
} from "@rd/protocol";
import type { ControlNotice } from "@rd/db";
import type { BusEnvelope } from "./bus.ts";
import { ClipboardAudit } from "./hub/clipboard-audit.ts";
import { type Connection, isAgent, isViewer, move, type PeerSocket } from "./hub/connection.ts";
import type { HubContext, HubDeps } from "./hub/context.ts";
import { Delivery, Registry } from "./hub/delivery.ts";
import { Liveness } from "./hub/liveness.ts";
import { Presence } from "./hub/presence.ts";
import { Relay } from "./hub/relay.ts";
import { SecurityEvents } from "./hub/security-events.ts";
import { SessionControl } from "./hub/session-control.ts";
import { UnauthenticatedLimit } from "./hub/unauthenticated-limit.ts";

export type { PeerSocket } from "./hub/connection.ts";
export type { HubDeps } from "./hub/context.ts";

export interface PeerHandle {
  onMessage(data: string | ArrayBuffer | Uint8Array): void;
  onClose(): void;
}

type Domain = "session" | "relay" | "clipboard";

/** Which domain handles each message a connection of a role may send after its hello. */
const ROUTES: Record<"agent" | "technician", Partial<Record<SignalMessage["type"], Domain>>> = {
  agent: {
    "session/prompt": "session",
    "session/accept": "session",
    "session/deny": "session",
    "session/end": "session",
    "participant/admit": "session",
    "participant/refuse": "session",
    "signal/offer": "relay",
    "signal/ice": "relay",
    "clipboard/event": "clipboard",
  },
  technician: {
    "session/end": "session",
    "participant/leave": "session",
    "participant/away": "session",
    "control/request": "session",
    "control/grant": "session",
    "control/release": "session",
    "control/take": "session",
    "signal/answer": "relay",
    "signal/ice": "relay",
  },
};

export class SignalHub {
  private readonly ctx: HubContext;
  private readonly registry = new Registry();
  private readonly presence: Presence;
  private readonly relay: Relay;
  private readonly clipboard: ClipboardAudit;
  private readonly unauthenticated: UnauthenticatedLimit;
  private readonly disconnectedOnce = new WeakSet<Connection>();
  private unlisten?: () => Promise<void>;
  private nextId = 0;
  private stopping = false;

  constructor(deps: HubDeps) {
    const delivery = new Delivery({
      workerId: deps.workerId,
      bus: deps.bus,
      tuning: deps.tuning,
      log: deps.log,
      onClosed: (connection) => this.closed(connection),
    });
    // The domains reach each other through the context; it is complete before any message arrives.
    const ctx = {
      ...deps,
      registry: this.registry,
      delivery,
      toAgent: (connection: Connection, envelope: BusEnvelope) => this.toAgent(connection, envelope),
      toViewer: (connection: Connection, envelope: BusEnvelope) => this.toViewer(connection, envelope),
    } as HubContext;
    ctx.liveness = new Liveness(ctx);
    ctx.sessions = new SessionControl(ctx);
    ctx.security = new SecurityEvents({ store: deps.store, log: deps.log });
    this.ctx = ctx;
    this.unauthenticated = new UnauthenticatedLimit(deps.tuning.maxUnauthenticatedPerIp);
    this.presence = new Presence(ctx);
    this.relay = new Relay(ctx);
    this.clipboard = new ClipboardAudit({ store: deps.store, delivery, log: deps.log });
  }

  async start(): Promise<void> {
    this.unlisten = await this.ctx.store.listen(
      (notice) => this.onNotice(notice),
      (payload) =>
        this.ctx.log.warn({ payload: payload.slice(0, 200) }, "ignored an unreadable control notice"),
    );
    this.ctx.liveness.start();
  }

  /**
   * Closes every socket with "going away" and stops the timers. Nothing ends: the agents and viewers
   * reconnect (here after a restart, or to another worker) and carry on; what does not come back
   * is swept by the workers that remain.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    this.ctx.liveness.stop();
    this.presence.stop();
    this.ctx.security.stop();
    await this.unlisten?.();
    for (const connection of this.registry.connections)
      this.ctx.delivery.close(connection, CLOSE_CODES.goingAway, "worker shutting down", "stopping");
  }

  get stats() {
    const r = this.registry;
    return {
      connections: r.connections.size,
      agents: r.agents.size,
      viewers: r.participants.size,
      unauthenticated: this.unauthenticated.size,
    };
  }

  /**
   * A new socket from `ip`. Refused at once (4008) when its address already holds the most
   * connections that may wait for their hello; otherwise it holds one of those places until it is
   * welcomed or closed (connection.ts `move`).
   */
  connect(socket: PeerSocket, ip = "unknown"): PeerHandle {
    const { tuning, delivery } = this.ctx;
    const releaseUnauthenticated = this.unauthenticated.admit(ip);
    if (!releaseUnauthenticated) {
      this.ctx.security.tooManyUnauthenticated(ip);
      try {
        socket.close(CLOSE_CODES.rateLimited, "too many connections from your address are signing in");
      } catch {
        // already gone
      }
      return { onMessage: () => {}, onClose: () => {} };
    }
    const connection: Connection = {
      id: `${this.ctx.workerId}-${(this.nextId++).toString(36)}`,
      socket,
      ip,
      releaseUnauthenticated,
      state: "hello",
      sessions: new Set(),
      lastHeard: Date.now(),
      protocolErrors: 0,
      messages: new TokenBucket(tuning.messagesPerSecond, tuning.messageBurst),
      bytes: new TokenBucket(tuning.bytesPerSecond, tuning.byteBurst),
      slice: this.nextId % this.ctx.liveness.slices,
      snapshotVersions: new Map(),
    };
    connection.helloTimer = setTimeout(
      () => delivery.close(connection, CLOSE_CODES.timeout, "no presence/hello within the time limit"),
      tuning.helloTimeoutMs,
    );
    this.registry.connections.add(connection);
    return {
      onMessage: (data) => this.enqueue(connection, data),
      onClose: () => {
        if (connection.state === "closed") return;
        move(connection, "close");
        clearTimeout(connection.helloTimer);
        this.closed(connection);
      },
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
    if (connection.state === "closed") return;
    const { delivery } = this.ctx;
    connection.lastHeard = Date.now();
    const size = typeof data === "string" ? data.length : data.byteLength;
    if (!connection.messages.take(1) || !connection.bytes.take(size)) {
      return delivery.close(connection, CLOSE_CODES.rateLimited, "too many messages; slow down");
    }
    if (size > SIGNAL_LIMITS.maxFrameBytes) {
      return delivery.close(
        connection,
        CLOSE_CODES.messageTooBig,
        `messages are limited to ${SIGNAL_LIMITS.maxFrameBytes} bytes`,
      );
    }
    if (typeof data !== "string") {
      return delivery.close(
        connection,
        CLOSE_CODES.protocolError,
        "binary frames are not part of the protocol",
      );
    }
    const parsed = parseSignalMessage(data);
    if (!parsed.ok) return delivery.refuse(connection, "bad_message", parsed.error);
    const message = parsed.message;

    if (connection.state === "hello") {
      if (message.type !== "presence/hello") {
        return delivery.close(
          connection,
          CLOSE_CODES.unauthenticated,
          "the first message must be presence/hello",
        );
      }
      return this.presence.hello(connection, message);
    }
    if (message.type === "heartbeat/ping")
      return delivery.send(connection, { type: "heartbeat/pong", t: message.t });
    if (message.type === "heartbeat/pong") return;
    return this.dispatch(connection, message, data);
  }

  private dispatch(connection: Connection, message: SignalMessage, raw: string): Promise<void> | void {
    const { delivery } = this.ctx;
    const identity = connection.identity;
    if (connection.state !== "open" || !identity) return;
    const domain = ROUTES[identity.role][message.type];
    if (!domain || !("sessionId" in message) || !message.sessionId) {
      return delivery.refuse(
        connection,
        "forbidden",
        `${message.type} is not a message ${identity.role === "agent" ? "an agent" : "a viewer"} may send`,
        message.type,
      );
    }
    // Each end speaks only for its own sessions.
    const mine = isAgent(connection)
      ? connection.sessions.has(message.sessionId)
      : isViewer(connection) && connection.identity.sessionId === message.sessionId;
    if (!mine) {
      return delivery.refuse(
        connection,
        "forbidden",
        identity.role === "agent"
          ? "this agent is not a peer of that session"
          : "you can only send messages for the session your ticket is for",
        message.type,
      );
    }
    if (domain === "clipboard")
      return this.clipboard.fromAgent(connection, message as SignalMessageOf<"clipboard/event">);
    if (domain === "relay") {
      const negotiation = message as Parameters<Relay["fromAgent"]>[1];
      return identity.role === "agent"
        ? this.relay.fromAgent(connection, negotiation, raw)
        : this.relay.fromViewer(connection, negotiation, raw);
    }
    const sessionMessage = message as Parameters<SessionControl["fromAgent"]>[1];
    return identity.role === "agent"
      ? this.ctx.sessions.fromAgent(connection, sessionMessage)
      : this.ctx.sessions.fromViewer(connection, sessionMessage);
  }

  // ——— The bus and the control feed ———

  private toAgent(connection: Connection, envelope: BusEnvelope) {
    if (connection.state === "closed") return;
    if (envelope.kind === "agent-connected") return this.presence.onAgentEnvelope(connection, envelope);
    if (envelope.kind === "relay") return this.relay.onAgentRelay(connection, envelope);
    if (envelope.kind !== "deliver") return;
    const { message } = envelope;
    if (message.type === "session/request") {
      this.registry.addAgentSession(connection, message.sessionId);
      this.ctx.liveness.agentBack(message.sessionId);
    } else if (
      !("sessionId" in message) ||
      !message.sessionId ||
      !connection.sessions.has(message.sessionId)
    ) {
      // Only traffic of sessions this connection is part of.
      return;
    }
    this.ctx.delivery.send(connection, message);
  }

  private toViewer(connection: Connection, envelope: BusEnvelope) {
    if (connection.state === "closed") return;
    if (envelope.kind === "participant-connected")
      return this.presence.onViewerEnvelope(connection, envelope);
    if (envelope.kind === "relay") return this.relay.onViewerRelay(connection, envelope);
  }

  private onNotice(notice: ControlNotice) {
    const { registry, delivery, store } = this.ctx;
    switch (notice.kind) {
      case "session":
      case "participants":
        return this.ctx.sessions.onNotice(notice);
      case "agent-revoked": {
        store.forgetAgent(notice.agentId);
        const agent = registry.agents.get(notice.agentId);
        if (agent)
          delivery.close(agent, CLOSE_CODES.revoked, "this agent was removed; enroll it again", "revoked");
        return;
      }
      case "user-revoked":
        for (const viewer of [...(registry.viewersByUser.get(notice.userId) ?? [])])
          delivery.close(viewer, CLOSE_CODES.revoked, "your account was deactivated", "revoked");
        return;
      case "user-role":
        // Read at the hello, so changed here for the connections already open: a technician made
        // admin may take control at once, and an admin made technician no longer can.
        for (const viewer of registry.viewersByUser.get(notice.userId) ?? [])
          if (isViewer(viewer) && !viewer.identity.candidate) viewer.identity.admin = notice.admin;
        return;
    }
  }

  // ——— Leaving ———

  /** Runs once per connection, whether it closed itself or was closed. */
  private closed(connection: Connection) {
    if (this.disconnectedOnce.has(connection)) return;
    this.disconnectedOnce.add(connection);
    this.registry.connections.delete(connection);
    void this.leaving(connection).catch((error: unknown) =>
      this.ctx.log.error({ err: error, connection: connection.id }, "cleaning up a connection failed"),
    );
  }

  private async leaving(connection: Connection) {
    const { registry, store, liveness } = this.ctx;
    if (isViewer(connection)) registry.removeViewer(connection);
    if (isAgent(connection)) registry.removeAgent(connection);
    await connection.unsubscribe?.();
    // The hub closed it on purpose (replaced, left, ended, revoked, away already handled) or is
    // stopping: nothing more to do.
    if (!connection.identity || connection.cause || this.stopping) return;
    if (isViewer(connection)) {
      const { participantId, peer } = connection.identity;
      await store.participantDisconnected(participantId, peer);
      liveness.participantGone(participantId);
      return;
    }
    if (isAgent(connection)) {
      for (const sessionId of connection.sessions) liveness.agentGone(sessionId);
      this.presence.agentGone(connection);
    }
  }

  private crashed(connection: Connection, error: unknown) {
    this.ctx.log.error({ err: error, connection: connection.id }, "unexpected error handling a connection");
    this.ctx.delivery.close(connection, 1011, "internal error");
  }
}
