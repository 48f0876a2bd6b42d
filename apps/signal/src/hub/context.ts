/** What the hub's domain modules share: its dependencies, the registry, delivery, and each other. */
import type { Logger } from "@rd/log";
import type { IceServer } from "@rd/protocol";
import type { Bus, BusEnvelope } from "../bus.ts";
import type { SignalTuning } from "../config.ts";
import type { ReplayGuard } from "../replay-guard.ts";
import type { SignalStore } from "../store.ts";
import type { Connection } from "./connection.ts";
import type { Delivery, Registry } from "./delivery.ts";
import type { Liveness } from "./liveness.ts";
import type { SecurityEvents } from "./security-events.ts";
import type { SessionControl } from "./session-control.ts";

export interface HubDeps {
  workerId: string;
  store: SignalStore;
  bus: Bus;
  replayGuard: ReplayGuard;
  ticketKey: CryptoKey;
  tuning: SignalTuning;
  log: Logger;
  /**
   * The TURN relay's servers with a fresh short-lived credential for `id` (a participant, or a
   * session for its agent); unset when no relay is configured. The credential is never logged.
   */
  turnCredentials?: (id: string) => Promise<IceServer>;
}

export interface HubContext extends HubDeps {
  registry: Registry;
  delivery: Delivery;
  liveness: Liveness;
  sessions: SessionControl;
  /** Refused tickets and credentials: warnings, and audit events where the tenant is known. */
  security: SecurityEvents;
  /** Bus envelopes for a connection of an agent / a participant. */
  toAgent(connection: Connection, envelope: BusEnvelope): void;
  toViewer(connection: Connection, envelope: BusEnvelope): void;
}

/** The relay's servers with a credential for `id`, as the field of a message; nothing without a relay. */
export async function iceServersFor(ctx: HubDeps, id: string): Promise<{ iceServers?: IceServer[] }> {
  const issue = ctx.turnCredentials;
  return issue ? { iceServers: [await issue(id)] } : {};
}
