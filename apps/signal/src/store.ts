/**
 * What the worker needs from the database, behind one interface: agent authentication (cached
 * briefly, so reconnect storms do not hammer the database), presence with audit events, the session
 * a ticket names, and session transitions. Nothing here runs per relayed message.
 */
import {
  Agents,
  appendEvent,
  type Database,
  RemoteSessions,
  SessionNotFound,
  transitionSession,
  type TransitionOptions,
} from "@rd/db";
import { sha256Hex } from "@rd/auth/secrets";
import { type ConsentPolicy, IllegalSessionTransition, type SessionState } from "@rd/protocol";
import { and, eq, inArray, isNull, lt } from "drizzle-orm";

export interface AgentIdentity {
  agentId: string;
  tenantId: string;
  name: string;
}

export interface TicketSession {
  status: SessionState;
  agentId: string;
  technicianId: string;
  agentOnline: boolean;
  consent: ConsentPolicy;
}

export type TransitionResult =
  { ok: true; agentId: string; status: SessionState } | { ok: false; message: string };

export interface SignalStore {
  authenticateAgent(agentId: string, secret: string): Promise<AgentIdentity | null>;
  /** Marks the agent online now; writes `agent_online` only when it was offline. */
  agentOnline(agent: AgentIdentity): Promise<void>;
  /** Marks it offline unless it was seen after `disconnectedAt` (it reconnected somewhere). */
  agentOffline(agent: AgentIdentity, disconnectedAt: Date): Promise<void>;
  /** Refreshes last_seen_at of agents connected to this worker. */
  touchAgents(agentIds: string[]): Promise<void>;
  /** Marks offline every agent not seen since `before` (its worker died); returns how many. */
  sweepStaleAgents(before: Date): Promise<number>;
  sessionForTicket(tenantId: string, sessionId: string): Promise<TicketSession | null>;
  transition(options: TransitionOptions): Promise<TransitionResult>;
}

export function createDbStore(db: Database, { credentialCacheMs = 30_000 } = {}): SignalStore {
  // Key: agent id + hash of the presented secret, so a wrong secret never hits a cached success.
  const cache = new Map<string, { result: AgentIdentity | null; expires: number }>();

  async function setPresence(agent: AgentIdentity, online: boolean, condition?: Date) {
    await db.transaction(async (tx) => {
      const [row] = await tx
        .select({ status: Agents.status, lastSeenAt: Agents.lastSeenAt })
        .from(Agents)
        .where(eq(Agents.id, agent.agentId))
        .for("update");
      if (!row) return;
      if (!online && condition && row.lastSeenAt && row.lastSeenAt > condition) return;
      const status = online ? "online" : "offline";
      await tx.update(Agents).set({ status, lastSeenAt: new Date() }).where(eq(Agents.id, agent.agentId));
      if (row.status !== status) {
        await appendEvent(tx, {
          tenantId: agent.tenantId,
          type: online ? "agent_online" : "agent_offline",
          actor: { type: "agent", id: agent.agentId },
          agentId: agent.agentId,
        });
      }
    });
  }

  return {
    async authenticateAgent(agentId, secret) {
      const hash = sha256Hex(secret);
      const key = `${agentId}:${hash}`;
      const hit = cache.get(key);
      if (hit && hit.expires > Date.now()) return hit.result;
      const [row] = await db
        .select({ tenantId: Agents.tenantId, name: Agents.name, credentialHash: Agents.credentialHash })
        .from(Agents)
        .where(and(eq(Agents.id, agentId), isNull(Agents.removedAt)));
      const result =
        row && row.credentialHash === hash ? { agentId, tenantId: row.tenantId, name: row.name } : null;
      if (cache.size > 10_000) cache.clear();
      cache.set(key, { result, expires: Date.now() + credentialCacheMs });
      return result;
    },

    agentOnline: (agent) => setPresence(agent, true),
    agentOffline: (agent, disconnectedAt) => setPresence(agent, false, disconnectedAt),

    async touchAgents(agentIds) {
      if (agentIds.length === 0) return;
      await db.update(Agents).set({ lastSeenAt: new Date() }).where(inArray(Agents.id, agentIds));
    },

    async sweepStaleAgents(before) {
      const stale = await db
        .select({ agentId: Agents.id, tenantId: Agents.tenantId, name: Agents.name })
        .from(Agents)
        .where(and(eq(Agents.status, "online"), lt(Agents.lastSeenAt, before)));
      for (const agent of stale) await setPresence(agent, false, before);
      return stale.length;
    },

    async sessionForTicket(tenantId, sessionId) {
      const [row] = await db
        .select({
          status: RemoteSessions.status,
          agentId: RemoteSessions.agentId,
          technicianId: RemoteSessions.technicianId,
          agentStatus: Agents.status,
          removedAt: Agents.removedAt,
          consent: Agents.consentPolicy,
        })
        .from(RemoteSessions)
        .innerJoin(Agents, eq(Agents.id, RemoteSessions.agentId))
        .where(and(eq(RemoteSessions.id, sessionId), eq(RemoteSessions.tenantId, tenantId)));
      if (!row) return null;
      return {
        status: row.status,
        agentId: row.agentId,
        technicianId: row.technicianId,
        agentOnline: row.agentStatus === "online" && !row.removedAt,
        consent: row.consent,
      };
    },

    async transition(options) {
      try {
        const session = await transitionSession(db, options);
        return { ok: true, agentId: session.agentId, status: session.status };
      } catch (error) {
        if (error instanceof IllegalSessionTransition || error instanceof SessionNotFound) {
          return { ok: false, message: error.message };
        }
        throw error;
      }
    },
  };
}
