/**
 * Liveness: what is still there. Heartbeats find dead sockets; a peer whose socket went away gets a
 * grace period to come back (a reload, a network blip, a restarted worker) before its participant
 * leaves or its session ends; and every worker refreshes what it holds in the database and sweeps
 * what nobody holds any more, so a session whose worker died without a word never stays active.
 */
import { CLOSE_CODES } from "@rd/protocol";
import type { HubContext } from "./context.ts";

/**
 * The heartbeat visits one slice of the connections per tick: up to 60 slices, a tick every 250 ms
 * at the default interval, so 2,000 connections cost ~33 pings (and pongs) per tick instead of a
 * burst that delays relaying. Ticks stay ≥ 50 ms apart when the interval is short (tests).
 */
export function heartbeatSlices(heartbeatMs: number) {
  return Math.max(1, Math.min(60, Math.floor(heartbeatMs / 50)));
}

export class Liveness {
  private readonly ctx: HubContext;
  readonly slices: number;
  private heartbeatTick = 0;
  private readonly timers: ReturnType<typeof setInterval>[] = [];
  private readonly agentAway = new Map<string, ReturnType<typeof setTimeout>>();
  private readonly participantAway = new Map<string, ReturnType<typeof setTimeout>>();

  constructor(ctx: HubContext) {
    this.ctx = ctx;
    this.slices = heartbeatSlices(ctx.tuning.heartbeatMs);
  }

  start() {
    const { tuning } = this.ctx;
    this.timers.push(
      // In slices: a ping to every connection at once would stall relaying for a moment.
      setInterval(() => this.heartbeat(), tuning.heartbeatMs / this.slices),
      setInterval(() => void this.refresh(), tuning.presenceRefreshMs),
    );
  }

  stop() {
    this.timers.forEach(clearInterval);
    this.agentAway.forEach(clearTimeout);
    this.participantAway.forEach(clearTimeout);
  }

  /** Pings every connection; one that stayed silent too long is dead and gets closed. */
  private heartbeat() {
    const { registry, delivery, tuning } = this.ctx;
    const slice = this.heartbeatTick++ % this.slices;
    const deadline = Date.now() - tuning.heartbeatMs * 2.5;
    for (const connection of registry.connections) {
      if (connection.slice !== slice || connection.state !== "open") continue;
      if (connection.lastHeard < deadline)
        delivery.close(connection, CLOSE_CODES.timeout, "no heartbeat from the peer");
      else delivery.send(connection, { type: "heartbeat/ping", t: Date.now() });
    }
  }

  /**
   * The agent's connection went away while the session ran. Its peer connections may well still
   * carry the picture: the session ends (`agent_offline`) only if the agent does not come back
   * within the grace period, to this worker or another.
   */
  agentGone(sessionId: string) {
    const { tuning, registry, store, log } = this.ctx;
    const since = new Date();
    clearTimeout(this.agentAway.get(sessionId));
    this.agentAway.set(
      sessionId,
      setTimeout(() => {
        this.agentAway.delete(sessionId);
        if (registry.agentBySession.get(sessionId)?.state === "open") return;
        store
          .stopIfAgentAway(sessionId, since)
          .catch((error: unknown) =>
            log.warn({ err: error, sessionId }, "ending an abandoned session failed"),
          );
      }, tuning.resumeGraceMs),
    );
  }

  agentBack(sessionId: string) {
    clearTimeout(this.agentAway.get(sessionId));
    this.agentAway.delete(sessionId);
  }

  /** A viewer's connection went away: its participant leaves unless it is back within the grace period. */
  participantGone(participantId: string) {
    const { tuning, registry, store, log } = this.ctx;
    clearTimeout(this.participantAway.get(participantId));
    this.participantAway.set(
      participantId,
      setTimeout(() => {
        this.participantAway.delete(participantId);
        if (registry.participants.get(participantId)?.state === "open") return;
        void (async () => {
          if (await store.participantAway(participantId))
            await store.leave(participantId, "disconnected", { type: "system" });
        })().catch((error: unknown) =>
          log.warn({ err: error, participantId }, "leaving a participant failed"),
        );
      }, tuning.resumeGraceMs),
    );
  }

  participantBack(participantId: string) {
    clearTimeout(this.participantAway.get(participantId));
    this.participantAway.delete(participantId);
  }

  /**
   * Refreshes what this worker holds (agents, their sessions, participants) and sweeps what nobody
   * has refreshed for longer than the grace period and two refreshes: its worker is gone.
   */
  private async refresh() {
    const { store, registry, tuning, log } = this.ctx;
    try {
      await store.touchAgents([...registry.agents.keys()]);
      await store.touchSessionAgents([...registry.agentBySession.keys()]);
      await store.touchParticipants([...registry.participants.keys()]);
      const now = Date.now();
      await store.sweepStaleAgents(new Date(now - tuning.presenceRefreshMs * 3));
      await store.sweepInterrupted(new Date(now - tuning.resumeGraceMs - tuning.presenceRefreshMs * 2));
    } catch (error) {
      log.warn({ err: error }, "presence refresh failed");
    }
  }
}
