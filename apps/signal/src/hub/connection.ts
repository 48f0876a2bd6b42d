/**
 * One WebSocket connection as the hub sees it, and its lifecycle as a table: it waits for
 * `presence/hello`, is authenticated, is open, is closed. The hub also remembers why it closed a
 * connection itself, because that decides what the close means (a viewer who left on purpose is
 * not "away"; a worker that is stopping ends nothing).
 */
import { stateMachine, type TokenBucket } from "@rd/protocol";
import type { AgentIdentity } from "../store.ts";

/** What the hub needs of a WebSocket; the Node and Deno entries adapt theirs to it. */
export interface PeerSocket {
  send(text: string): void;
  close(code: number, reason: string): void;
  /** Bytes queued but not yet sent; how a slow reader shows. */
  readonly bufferedAmount: number;
}

export type AgentConnectionIdentity = { role: "agent" } & AgentIdentity;
export interface ViewerIdentity {
  role: "technician";
  tenantId: string;
  /** The user; for a desk's candidate (no account), the share link they came through. */
  userId: string;
  /** A desk's candidate: their actions are recorded as the system's on their behalf, not a user's. */
  candidate: boolean;
  sessionId: string;
  participantId: string;
  agentId: string;
  /** An admin of the tenant (may take control, may end any session). */
  admin: boolean;
  /** The page's peer-connection instance (presence/hello `peer`). */
  peer: string | null;
}
export type Identity = AgentConnectionIdentity | ViewerIdentity;

export const CONNECTION_STATES = ["hello", "authenticating", "open", "closed"] as const;
export type ConnectionState = (typeof CONNECTION_STATES)[number];

export const CONNECTION_TRANSITIONS = {
  /** The first message arrived, and it is `presence/hello`: its credentials are being checked. */
  hello: { from: ["hello"], to: "authenticating" },
  /** Credentials good: welcomed, and from now on messages of its role are handled. */
  welcome: { from: ["authenticating"], to: "open" },
  /** Closed by either side, at any point (RFC 6455 §7). */
  close: { from: ["hello", "authenticating", "open"], to: "closed" },
} as const satisfies Record<string, { from: readonly ConnectionState[]; to: ConnectionState }>;
export type ConnectionTransition = keyof typeof CONNECTION_TRANSITIONS;

export class IllegalConnectionTransition extends Error {
  constructor(from: ConnectionState, transition: ConnectionTransition) {
    super(`A connection that is ${from} cannot ${transition}`);
    this.name = "IllegalConnectionTransition";
  }
}

export const nextConnectionState = stateMachine<ConnectionState, ConnectionTransition>(
  CONNECTION_TRANSITIONS,
  (from, transition) => new IllegalConnectionTransition(from, transition),
).next;

/**
 * Why the hub closed a connection itself. Anything else (the peer went, a limit was hit, the
 * heartbeat stopped) is a disconnect: the peer may come back within the grace period.
 */
export type CloseCause = "replaced" | "left" | "away" | "ended" | "revoked" | "stopping";

export interface Connection {
  id: string;
  socket: PeerSocket;
  /** The client's address as the socket saw it ("unknown" where the runtime does not say). */
  ip: string;
  /**
   * Gives back this connection's place among its address's connections that have not said hello
   * yet (hub/unauthenticated-limit.ts); called once it is welcomed or closed, whichever is first.
   */
  releaseUnauthenticated?: () => void;
  state: ConnectionState;
  identity?: Identity;
  /** Agents: the sessions this connection is part of. */
  sessions: Set<string>;
  lastHeard: number;
  protocolErrors: number;
  messages: TokenBucket;
  bytes: TokenBucket;
  helloTimer?: ReturnType<typeof setTimeout>;
  unsubscribe?: () => Promise<void>;
  /** Which heartbeat slice visits this connection. */
  slice: number;
  cause?: CloseCause;
  /** The newest participants snapshot sent, per session (an agent's connection serves many). */
  snapshotVersions: Map<string, number>;
  /**
   * Messages are handled one at a time, in order: a deny must not overtake its prompt. While a
   * message's work (a database transition, say) is in flight, later ones wait on this promise.
   */
  pending?: Promise<void>;
}

export const isAgent = (c: Connection): c is Connection & { identity: AgentConnectionIdentity } =>
  c.identity?.role === "agent";
export const isViewer = (c: Connection): c is Connection & { identity: ViewerIdentity } =>
  c.identity?.role === "technician";

/** Whether it closed, read fresh (after an await, the socket may have gone meanwhile). */
export const isClosed = (c: Connection): boolean => c.state === "closed";

export function move(connection: Connection, transition: ConnectionTransition): void {
  connection.state = nextConnectionState(connection.state, transition);
  // Every way out of the hello (welcome, refusal, the hello timeout, the peer leaving) passes here.
  if (connection.state === "open" || connection.state === "closed") {
    connection.releaseUnauthenticated?.();
    connection.releaseUnauthenticated = undefined;
  }
}
