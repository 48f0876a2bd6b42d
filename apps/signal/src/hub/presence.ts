/**
 * Presence: who a connection is. `presence/hello` authenticates an agent (its credential) or a
 * viewer (a single-use ticket, then the database: the participant must still be in the session and
 * the user still active); the connection is registered, subscribed to its bus channel, replaces an
 * older connection of the same agent or participant, and is welcomed; a refusal is a security event
 * (security-events.ts). An agent that reconnects names the sessions it still runs, and those carry
 * on. Agents are online while connected (debounced on the way out, so a flapping link leaves no
 * trace).
 */
import { verifyTicket } from "@rd/auth/tickets";
import { CLOSE_CODES, type SignalMessageOf } from "@rd/protocol";
import { type BusEnvelope, channels } from "../bus.ts";
import type { AgentIdentity } from "../store.ts";
import { type Connection, isAgent, isClosed, move, type ViewerIdentity } from "./connection.ts";
import { type HubContext, iceServersFor } from "./context.ts";

export class Presence {
  private readonly ctx: HubContext;
  private readonly offlineTimers = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(ctx: HubContext) {
    this.ctx = ctx;
  }

  stop() {
    this.offlineTimers.forEach(clearTimeout);
  }

  async hello(connection: Connection, message: SignalMessageOf<"presence/hello">): Promise<void> {
    clearTimeout(connection.helloTimer);
    move(connection, "hello");
    if (message.auth.kind === "agent") return this.agentHello(connection, message.auth, message.resume ?? []);
    return this.viewerHello(connection, message.auth.ticket, message.peer ?? null);
  }

  // ——— Agents ———

  private async agentHello(
    connection: Connection,
    auth: { agentId: string; secret: string },
    running: string[],
  ) {
    const { store, delivery, registry, bus, workerId, log, tuning, security } = this.ctx;
    const check = await store.authenticateAgent(auth.agentId, auth.secret);
    if (!check.ok) {
      security.agentRefused(connection.ip, auth.agentId, check.reason, check.tenantId);
      return delivery.close(
        connection,
        CLOSE_CODES.unauthenticated,
        "unknown agent or wrong secret; re-enroll it",
      );
    }
    const { agent } = check;
    if (isClosed(connection)) return;
    connection.identity = { role: "agent", ...agent };
    const previous = registry.agents.get(agent.agentId);
    if (previous)
      delivery.close(previous, CLOSE_CODES.replaced, "replaced by a newer connection", "replaced");
    registry.agents.set(agent.agentId, connection);
    clearTimeout(this.offlineTimers.get(agent.agentId));
    this.offlineTimers.delete(agent.agentId);
    connection.unsubscribe = await bus.subscribe(channels.agent(agent.agentId), (envelope) =>
      this.ctx.toAgent(connection, envelope),
    );
    await bus.publish(channels.agent(agent.agentId), {
      kind: "agent-connected",
      agentId: agent.agentId,
      connectionId: connection.id,
      workerId,
    });
    await store.agentOnline(agent);
    const { resumed, ended, over, reask } = await store.resumeAgent(agent, running);
    if (isClosed(connection)) return;
    for (const sessionId of resumed) {
      registry.addAgentSession(connection, sessionId);
      this.ctx.liveness.agentBack(sessionId);
    }
    move(connection, "welcome");
    delivery.send(connection, {
      type: "presence/welcome",
      role: "agent",
      peerId: connection.id,
      heartbeatMs: tuning.heartbeatMs,
    });
    for (const sessionId of resumed) void this.ctx.sessions.catchUp(connection, sessionId);
    for (const { sessionId, status, reason } of over) {
      delivery.send(connection, { type: "session/state", sessionId, status, ...(reason ? { reason } : {}) });
    }
    // Over the bus, like any request: the agent ignores one it has already.
    for (const sessionId of reask) {
      void this.ctx.sessions
        .reaskAgent(sessionId, agent.agentId)
        .catch((error: unknown) => log.warn({ err: error, sessionId }, "asking the agent again failed"));
    }
    log.info(
      {
        agentId: agent.agentId,
        connection: connection.id,
        resumed: resumed.length,
        ended,
        reask: reask.length,
      },
      "agent connected",
    );
  }

  /** An agent's connection closed: offline after the grace period unless it comes back. */
  agentGone(connection: Connection & { identity: AgentIdentity }) {
    const { store, tuning, log } = this.ctx;
    const agent = connection.identity;
    const disconnectedAt = new Date();
    clearTimeout(this.offlineTimers.get(agent.agentId));
    this.offlineTimers.set(
      agent.agentId,
      setTimeout(() => {
        this.offlineTimers.delete(agent.agentId);
        if (this.ctx.registry.agents.has(agent.agentId)) return;
        void store
          .agentOffline(agent, disconnectedAt)
          .catch((error: unknown) =>
            log.warn({ err: error, agentId: agent.agentId }, "offline update failed"),
          );
      }, tuning.offlineGraceMs),
    );
    log.info({ agentId: agent.agentId, connection: connection.id }, "agent disconnected");
  }

  // ——— Viewers ———

  private async viewerHello(connection: Connection, ticket: string, peer: string | null) {
    const { store, delivery, registry, bus, ticketKey, replayGuard, tuning, security } = this.ctx;
    const checked = await verifyTicket(ticketKey, ticket);
    if (!checked.ok) {
      security.ticketRefused(
        connection.ip,
        checked.reason,
        checked.reason === "expired" ? checked.claims : undefined,
      );
      return delivery.close(connection, CLOSE_CODES.unauthenticated, checked.message);
    }
    const { claims } = checked;
    if (!claims.pid) {
      security.ticketRefused(connection.ip, "outdated", claims);
      return delivery.close(
        connection,
        CLOSE_CODES.unauthenticated,
        "this ticket is from an older dashboard; reload",
      );
    }
    if (!(await replayGuard.claim(claims.jti, claims.exp * 1000))) {
      security.ticketRefused(connection.ip, "replayed", claims);
      return delivery.close(
        connection,
        CLOSE_CODES.unauthenticated,
        "this ticket was used already; ask the API for a new one",
      );
    }
    const found = await store.participationForTicket(claims);
    if (!found.ok && found.code === "gone") {
      // Leaving is the user's own doing; the others are a ticket that should not have been used.
      if (found.why !== "left") {
        const reason =
          found.why === "unknown"
            ? "unknown_participant"
            : found.why === "revoked_link"
              ? "revoked_link"
              : "deactivated_user";
        security.ticketRefused(connection.ip, reason, claims);
      }
      return delivery.close(connection, CLOSE_CODES.forbidden, found.message);
    }
    if (!found.ok) {
      // Say how it ended (interrupted, ended by someone…): a page coming back finds out here.
      delivery.send(connection, {
        type: "session/state",
        sessionId: claims.sid,
        status: found.status,
        ...(found.reason ? { reason: found.reason.slice(0, 200) } : {}),
      });
      return delivery.close(connection, CLOSE_CODES.sessionEnded, found.message);
    }
    const p = found.value;
    if ((registry.viewersByUser.get(p.userId)?.size ?? 0) >= tuning.maxConnectionsPerUser) {
      return delivery.close(connection, CLOSE_CODES.forbidden, "too many open sessions for this user");
    }
    if (isClosed(connection)) return;
    const identity: ViewerIdentity = {
      role: "technician",
      tenantId: p.tenantId,
      userId: p.userId,
      // The recorder, like a candidate, has no account: what it does is the system's.
      candidate: p.candidate || p.recorder,
      sessionId: p.sessionId,
      participantId: p.participantId,
      agentId: p.agentId,
      admin: p.admin,
      peer,
    };
    connection.identity = identity;
    // A reload or a second tab of the same participation: the newest connection holds it.
    const previous = registry.participants.get(p.participantId);
    if (previous && previous !== connection)
      delivery.close(previous, CLOSE_CODES.replaced, "opened again in another tab or window", "replaced");
    registry.addViewer(connection);
    // A snapshot older than the check above could predate this participant's joining: never sent.
    connection.snapshotVersions.set(p.sessionId, p.version - 1);
    connection.unsubscribe = await bus.subscribe(channels.participant(p.participantId), (envelope) =>
      this.ctx.toViewer(connection, envelope),
    );
    await bus.publish(channels.participant(p.participantId), {
      kind: "participant-connected",
      participantId: p.participantId,
      connectionId: connection.id,
    });
    // Each connection gets its own credential: a reconnect is a fresh one for the peer's next ICE restart.
    const ice = await iceServersFor(this.ctx, p.participantId);
    if (isClosed(connection)) return;
    // Welcomed before the agent hears of it: the agent's offer must not reach a page that does not
    // know yet who it is in the session.
    move(connection, "welcome");
    delivery.send(connection, {
      type: "presence/welcome",
      role: "technician",
      peerId: connection.id,
      heartbeatMs: tuning.heartbeatMs,
      sessionId: p.sessionId,
      participantId: p.participantId,
      ...ice,
    });
    const version = await store.participantConnected(p.participantId, peer);
    if (version === null) return this.ctx.sessions.closeLeft(connection, p.participantId);
    this.ctx.liveness.participantBack(p.participantId);
    // A new request to an agent that is not there ends at once. A session already under way waits:
    // its agent may be on its way back (a restarted worker), and the grace period decides.
    if (!p.agentOnline && p.status === "pending") {
      await store.stop(p.tenantId, p.sessionId, "agent_offline", { type: "system" });
      return;
    }
    // The agent was asked when the session was made, if it was connected then (session-control.ts);
    // if not, the first viewer asks it. Everyone catches up with the session's state.
    if (p.status === "pending") await this.ctx.sessions.askAgent(p.sessionId, p.agentId);
    await this.ctx.sessions.catchUp(connection, p.sessionId, version);
  }

  /** A participant's other connection (elsewhere) took over: this one is stale. */
  onViewerEnvelope(connection: Connection, envelope: BusEnvelope & { kind: "participant-connected" }) {
    if (envelope.connectionId !== connection.id) {
      this.ctx.delivery.close(
        connection,
        CLOSE_CODES.replaced,
        "opened again in another tab or window",
        "replaced",
      );
    }
  }

  onAgentEnvelope(connection: Connection, envelope: BusEnvelope & { kind: "agent-connected" }) {
    if (envelope.connectionId !== connection.id && isAgent(connection)) {
      this.ctx.delivery.close(connection, CLOSE_CODES.replaced, "replaced by a newer connection", "replaced");
    }
  }
}
