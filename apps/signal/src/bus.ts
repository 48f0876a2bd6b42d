/**
 * The bus that joins signaling workers for traffic between connections: each connection subscribes
 * to the channel addressed to it (`agent:<id>`, `participant:<id>`); a worker publishes to a channel
 * without knowing which worker, if any, holds its subscriber. In-process by default; Redis pub/sub
 * when several workers share load. Changes to sessions, participants, agents and users travel on
 * the database's control feed instead (packages/db control-feed.ts), which every process shares.
 */
import type { SignalMessage } from "@rd/protocol";

export type BusEnvelope =
  /** A message for the peer(s) subscribed to the channel. */
  | { kind: "deliver"; message: SignalMessage; fromWorker: string }
  /**
   * Offer, answer or ICE, forwarded as the validated frame it arrived as (the protocol's schemas
   * are strict, so the text holds nothing the schema did not accept): no re-serialising per hop.
   */
  | { kind: "relay"; sessionId: string; raw: string; fromWorker: string }
  /** An agent connected somewhere: any other connection of that agent is stale. */
  | { kind: "agent-connected"; agentId: string; connectionId: string; workerId: string }
  /** A participant connected somewhere (a reload, a second tab): its other connection is stale. */
  | { kind: "participant-connected"; participantId: string; connectionId: string };

export type BusHandler = (envelope: BusEnvelope) => void;

export interface Bus {
  publish(channel: string, envelope: BusEnvelope): Promise<void>;
  /** Resolves once the subscription is active; returns the unsubscribe function. */
  subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export const channels = {
  agent: (agentId: string) => `agent:${agentId}`,
  participant: (participantId: string) => `participant:${participantId}`,
};

/** One process, no network: delivery on a later microtask, like a real bus would be. */
export class InProcessBus implements Bus {
  private readonly handlers = new Map<string, Set<BusHandler>>();

  async publish(channel: string, envelope: BusEnvelope): Promise<void> {
    const handlers = this.handlers.get(channel);
    if (!handlers) return;
    // The handlers run later, so a handler that unsubscribes cannot disturb this loop.
    for (const handler of handlers) queueMicrotask(() => handler(envelope));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) this.handlers.set(channel, (set = new Set()));
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0) this.handlers.delete(channel);
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
  }
}
