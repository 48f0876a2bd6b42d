/**
 * Delivery: the connections this worker holds, indexed the ways the domains look them up, and the
 * one way to write to a socket (with the slow-reader limit), refuse a message, close a connection
 * or publish to another connection's channel on the bus.
 */
import { CLOSE_CODES, type SignalMessage } from "@rd/protocol";
import type { Logger } from "@rd/log";
import type { Bus } from "../bus.ts";
import type { SignalTuning } from "../config.ts";
import { type CloseCause, type Connection, isAgent, isViewer, move } from "./connection.ts";

export class Registry {
  readonly connections = new Set<Connection>();
  readonly agents = new Map<string, Connection>();
  /** Which agent connection here is part of a session. */
  readonly agentBySession = new Map<string, Connection>();
  readonly participants = new Map<string, Connection>();
  readonly viewersBySession = new Map<string, Set<Connection>>();
  readonly viewersByUser = new Map<string, Set<Connection>>();

  addViewer(connection: Connection) {
    if (!isViewer(connection)) return;
    const { sessionId, userId, participantId } = connection.identity;
    this.participants.set(participantId, connection);
    add(this.viewersBySession, sessionId, connection);
    add(this.viewersByUser, userId, connection);
  }

  removeViewer(connection: Connection) {
    if (!isViewer(connection)) return;
    const { sessionId, userId, participantId } = connection.identity;
    if (this.participants.get(participantId) === connection) this.participants.delete(participantId);
    remove(this.viewersBySession, sessionId, connection);
    remove(this.viewersByUser, userId, connection);
  }

  addAgentSession(connection: Connection, sessionId: string) {
    connection.sessions.add(sessionId);
    this.agentBySession.set(sessionId, connection);
  }

  dropAgentSession(connection: Connection, sessionId: string) {
    connection.sessions.delete(sessionId);
    connection.snapshotVersions.delete(sessionId);
    if (this.agentBySession.get(sessionId) === connection) this.agentBySession.delete(sessionId);
  }

  removeAgent(connection: Connection) {
    if (!isAgent(connection)) return;
    if (this.agents.get(connection.identity.agentId) === connection)
      this.agents.delete(connection.identity.agentId);
    for (const sessionId of connection.sessions) {
      if (this.agentBySession.get(sessionId) === connection) this.agentBySession.delete(sessionId);
    }
  }

  /** The open connections of one session here: its agent's and its viewers'. */
  ofSession(sessionId: string): Connection[] {
    const agent = this.agentBySession.get(sessionId);
    const viewers = this.viewersBySession.get(sessionId) ?? [];
    return [...(agent ? [agent] : []), ...viewers].filter((c) => c.state === "open");
  }
}

function add<K>(map: Map<K, Set<Connection>>, key: K, connection: Connection) {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(connection);
}

function remove<K>(map: Map<K, Set<Connection>>, key: K, connection: Connection) {
  const set = map.get(key);
  set?.delete(connection);
  if (set?.size === 0) map.delete(key);
}

export interface DeliveryDeps {
  workerId: string;
  bus: Bus;
  tuning: SignalTuning;
  log: Logger;
  /** Runs once per closed connection (the hub's leaving logic). */
  onClosed(connection: Connection): void;
}

export class Delivery {
  private readonly deps: DeliveryDeps;

  constructor(deps: DeliveryDeps) {
    this.deps = deps;
  }

  send(connection: Connection, message: SignalMessage) {
    this.sendRaw(connection, JSON.stringify(message));
  }

  /** Sends unless the peer reads too slowly; then it is closed rather than buffered without bound. */
  sendRaw(connection: Connection, text: string) {
    if (connection.state === "closed") return;
    if (connection.socket.bufferedAmount > this.deps.tuning.maxBufferedBytes) {
      return this.close(connection, CLOSE_CODES.slowConsumer, "reading too slowly; messages were piling up");
    }
    try {
      connection.socket.send(text);
    } catch {
      this.close(connection, CLOSE_CODES.goingAway, "send failed");
    }
  }

  /**
   * Answers a message the peer should not have sent, naming it (`ref`) and saying why. Too many of
   * them and the connection is closed: a peer that keeps getting it wrong is broken or abusive.
   */
  refuse(connection: Connection, code: string, message: string, ref?: string) {
    connection.protocolErrors += 1;
    if (connection.protocolErrors > this.deps.tuning.maxProtocolErrors) {
      return this.close(connection, CLOSE_CODES.protocolError, "too many invalid messages");
    }
    this.send(connection, { type: "error", code, message: message.slice(0, 500), ...(ref ? { ref } : {}) });
  }

  /** Closes the socket; `cause` records why, when the hub decided it (see CloseCause). */
  close(connection: Connection, code: number, reason: string, cause?: CloseCause) {
    if (connection.state === "closed") return;
    if (cause) connection.cause ??= cause;
    move(connection, "close");
    clearTimeout(connection.helloTimer);
    try {
      connection.socket.close(code, reason.slice(0, 120));
    } catch {
      // already gone
    }
    this.deps.onClosed(connection);
  }

  /**
   * Publishes to a channel. Not awaited by relays: the bus keeps one connection's publishes in
   * order, and the sender need not wait for delivery before its next message.
   */
  relay(channel: string, sessionId: string, raw: string) {
    this.deps.bus
      .publish(channel, { kind: "relay", sessionId, raw, fromWorker: this.deps.workerId })
      .catch((error: unknown) => this.deps.log.warn({ err: error, channel }, "relay publish failed"));
  }

  async deliver(channel: string, message: SignalMessage): Promise<void> {
    await this.deps.bus.publish(channel, { kind: "deliver", message, fromWorker: this.deps.workerId });
  }
}
