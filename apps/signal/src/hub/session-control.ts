/**
 * Session control: every message that changes a session (the agent's consent answers and ends, a
 * viewer's end, leave and control requests) goes to the control path in the database, which applies
 * the state tables and announces the change on the control feed. From the feed, each worker tells
 * its own connections of that session what changed: the state, who is in it, who has control. A
 * refused change is answered with an `error` naming the message and saying why.
 */
import {
  CLOSE_CODES,
  isTerminalSessionState,
  type SessionEndReason,
  type SessionState,
  type SignalMessage,
  type SignalMessageOf,
  stopTransition,
} from "@rd/protocol";
import type { ControlNotice } from "@rd/db";
import type { Outcome, Snapshot } from "../store.ts";
import { type Connection, isAgent, isViewer, type ViewerIdentity } from "./connection.ts";
import { type HubContext, iceServersFor } from "./context.ts";
import { channels } from "../bus.ts";

/** The reasons an agent may give for stopping a session itself. */
const AGENT_END_REASONS: readonly SessionEndReason[] = ["ended_by_agent", "negotiation_failed"];

type SessionMessage = Extract<SignalMessage, { sessionId: string }>;

export class SessionControl {
  private readonly ctx: HubContext;
  /** Snapshot reads under way, by session: a read asked for meanwhile shares it (see `read`). */
  private readonly reads = new Map<string, Promise<Snapshot | null>>();

  constructor(ctx: HubContext) {
    this.ctx = ctx;
  }

  /** From an agent: consent, the end of a session, the answer about a later participant. */
  async fromAgent(connection: Connection, message: SessionMessage): Promise<void> {
    if (!isAgent(connection)) return;
    const { store, delivery } = this.ctx;
    const { sessionId } = message;
    const tenantId = connection.identity.tenantId;
    const actor = { type: "agent" as const, id: connection.identity.agentId };
    let outcome: Outcome;
    switch (message.type) {
      case "session/prompt":
        outcome = await store.transition({ tenantId, sessionId, transition: "askConsent", actor });
        break;
      case "session/accept":
        outcome = await store.transition({ tenantId, sessionId, transition: "start", actor });
        break;
      case "session/deny":
        outcome = await store.transition({
          tenantId,
          sessionId,
          transition: "deny",
          actor,
          reason: message.reason,
        });
        break;
      case "session/end": {
        const reason = message.reason ?? "ended_by_agent";
        if (!AGENT_END_REASONS.includes(reason)) {
          return delivery.refuse(
            connection,
            "bad_reason",
            `an agent ends a session with ${AGENT_END_REASONS.join(" or ")}, not ${reason}`,
            message.type,
          );
        }
        outcome = await store.transition({
          tenantId,
          sessionId,
          transition: stopTransition(reason),
          actor,
          reason,
        });
        break;
      }
      case "participant/admit":
      case "participant/refuse":
        outcome = await store.answerParticipant(
          connection.identity.agentId,
          sessionId,
          message.participantId,
          message.type === "participant/admit" ? "admit" : message.reason,
        );
        break;
      default:
        return delivery.refuse(connection, "forbidden", `${message.type} is not a message an agent may send`);
    }
    if (!outcome.ok) delivery.refuse(connection, outcome.code, outcome.message, message.type);
  }

  /** From a viewer: ending the session for everyone, leaving it, and control. */
  async fromViewer(connection: Connection, message: SessionMessage): Promise<void> {
    if (!isViewer(connection)) return;
    const { store, delivery } = this.ctx;
    const me: ViewerIdentity = connection.identity;
    let outcome: Outcome;
    switch (message.type) {
      case "session/end":
        outcome = await store.endSession({
          tenantId: me.tenantId,
          sessionId: me.sessionId,
          userId: me.userId,
          admin: me.admin,
        });
        break;
      case "participant/leave":
        await store.leave(
          me.participantId,
          "left",
          me.candidate ? { type: "system" } : { type: "user", id: me.userId },
        );
        return delivery.close(connection, CLOSE_CODES.participantLeft, "left", "left");
      case "participant/away":
        // The page is closing: its peer connection goes now (the agent drops it), its place waits.
        await store.participantDisconnected(me.participantId, me.peer, true);
        this.ctx.liveness.participantGone(me.participantId);
        return delivery.close(connection, 1000, "page closed", "away");
      case "control/request":
      case "control/release":
      case "control/take":
        outcome = await store.changeControl({
          sessionId: me.sessionId,
          by: me.participantId,
          action: message.type.slice("control/".length) as "request" | "release" | "take",
          byAdmin: me.admin,
        });
        break;
      case "control/grant":
        outcome = await store.changeControl({
          sessionId: me.sessionId,
          by: me.participantId,
          action: "grant",
          to: message.to,
          byAdmin: me.admin,
        });
        break;
      default:
        return delivery.refuse(connection, "forbidden", `${message.type} is not a message a viewer may send`);
    }
    if (!outcome.ok) delivery.refuse(connection, outcome.code, outcome.message, message.type);
  }

  /**
   * Asks the agent of a new session (`session/request`), once whoever calls: the worker holding the
   * agent's connection when the session is made, so the agent answers (and its encoder starts) while
   * the viewer's page is still on its way, or else the first viewer's worker when it connects.
   */
  async askAgent(sessionId: string, agentId: string): Promise<void> {
    await this.sendRequest(agentId, await this.ctx.store.claimRequest(sessionId));
  }

  /** Asks the agent again for a request that may never have reached it (store.resumeAgent's `reask`). */
  async reaskAgent(sessionId: string, agentId: string): Promise<void> {
    await this.sendRequest(agentId, await this.ctx.store.requestAgain(sessionId));
  }

  /** The request with a TURN credential of the session's own, when there is one to send. */
  private async sendRequest(agentId: string, request: SignalMessageOf<"session/request"> | null) {
    if (!request) return;
    await this.ctx.delivery.deliver(channels.agent(agentId), {
      ...request,
      ...(await iceServersFor(this.ctx, request.sessionId)),
    });
  }

  /** A change on the control feed: tell this worker's connections of the session. */
  onNotice(notice: Extract<ControlNotice, { kind: "session" | "participants" }>): void {
    if (notice.kind === "participants") return this.pushSnapshot(notice.sessionId, notice.version);
    const { registry, delivery, liveness, log } = this.ctx;
    if (notice.status === "pending" && registry.agents.has(notice.agentId)) {
      return void this.askAgent(notice.sessionId, notice.agentId).catch((error: unknown) =>
        log.warn({ err: error, sessionId: notice.sessionId }, "asking the agent failed"),
      );
    }
    const connections = registry.ofSession(notice.sessionId);
    if (connections.length === 0) return;
    const state: SignalMessage = {
      type: "session/state",
      sessionId: notice.sessionId,
      status: notice.status,
      ...(notice.reason ? { reason: notice.reason.slice(0, 200) } : {}),
    };
    for (const connection of connections) delivery.send(connection, state);
    if (!isTerminalSessionState(notice.status)) return this.pushSnapshot(notice.sessionId);
    liveness.agentBack(notice.sessionId);
    for (const connection of connections) {
      if (isAgent(connection)) registry.dropAgentSession(connection, notice.sessionId);
      else
        delivery.close(connection, CLOSE_CODES.sessionEnded, endLine(notice.status, notice.reason), "ended");
    }
  }

  /**
   * Brings a connection that just joined (a viewer) or came back (an agent resuming) up to date:
   * the session's state and who is in it. With `atLeast` (the version its joining made), a read
   * already under way serves when it is that recent: the notice of the joining, which reaches this
   * worker first on the embedded database, has started one (two queries fewer on every Connect).
   */
  async catchUp(connection: Connection, sessionId: string, atLeast?: number): Promise<void> {
    const shared = atLeast === undefined ? null : await this.readUnderWay(sessionId, atLeast);
    const snapshot = shared ?? (await this.read(sessionId));
    if (!snapshot || connection.state !== "open") return;
    if (isTerminalSessionState(snapshot.status)) return this.tellOver(connection, sessionId, snapshot);
    this.ctx.delivery.send(connection, { type: "session/state", sessionId, status: snapshot.status });
    this.sendSnapshot(connection, sessionId, snapshot);
    // The others here get it too: a viewer's arrival is what its agent waits for to send the offer,
    // and the arrival's own notice would read the same snapshot again, a query later.
    for (const other of this.ctx.registry.ofSession(sessionId)) {
      if (other !== connection && other.state === "open") this.sendSnapshot(other, sessionId, snapshot);
    }
  }

  /**
   * The session's snapshot, read after this call (a read already under way is shared only by
   * callers that check its version: `pushSnapshot`, `catchUp`). One read serves a viewer's catch-up
   * and the notice of its arrival, which come a moment apart on every Connect, in either order.
   */
  private read(sessionId: string): Promise<Snapshot | null> {
    const read = this.ctx.store.snapshot(sessionId).finally(() => {
      if (this.reads.get(sessionId) === read) this.reads.delete(sessionId);
    });
    this.reads.set(sessionId, read);
    return read;
  }

  /** The read under way, if there is one and it is at least `version` (a failed one is not). */
  private async readUnderWay(sessionId: string, version: number): Promise<Snapshot | null> {
    const shared = await this.reads.get(sessionId)?.catch(() => null);
    return shared && shared.version >= version ? shared : null;
  }

  /**
   * The session is over by the store, and its end's own notice may not have come yet (notices
   * race): the connection hears the end with its reason, as those present do, and a viewer is
   * closed as ended, not as "left" (its participation ended with the session).
   */
  private tellOver(connection: Connection, sessionId: string, snapshot: Snapshot) {
    const { delivery, registry } = this.ctx;
    const { status } = snapshot;
    const reason = snapshot.endReason?.slice(0, 200);
    delivery.send(connection, { type: "session/state", sessionId, status, ...(reason ? { reason } : {}) });
    if (isViewer(connection))
      delivery.close(connection, CLOSE_CODES.sessionEnded, endLine(status, reason), "ended");
    else registry.dropAgentSession(connection, sessionId);
  }

  /**
   * Sends who is in the session to every connection of it here; a viewer no longer in it is closed.
   * Called from the control feed, which awaits nothing: a failed read (the database gone for a
   * moment, or closing) is logged, not left to reject unhandled, which would end the process.
   */
  private pushSnapshot(sessionId: string, version?: number): void {
    this.sendSnapshots(sessionId, version).catch((error: unknown) =>
      this.ctx.log.warn({ err: error, sessionId }, "cannot send who is in the session"),
    );
  }

  private async sendSnapshots(sessionId: string, version?: number) {
    const { registry } = this.ctx;
    const connections = registry.ofSession(sessionId);
    if (connections.length === 0) return;
    let snapshot: Snapshot | null | undefined;
    if (version === undefined) snapshot = await this.read(sessionId);
    else {
      // A participants notice names the version it made: nothing to do where everyone has it, and
      // a read under way serves if it is at least that recent.
      if (connections.every((c) => (c.snapshotVersions.get(sessionId) ?? -1) >= version)) return;
      snapshot = (await this.readUnderWay(sessionId, version)) ?? (await this.read(sessionId));
    }
    if (!snapshot) return;
    const over = isTerminalSessionState(snapshot.status);
    for (const connection of registry.ofSession(sessionId)) {
      // An agent waits for the end's own notice, which also settles the session's liveness watch.
      if (!over) this.sendSnapshot(connection, sessionId, snapshot);
      else if (isViewer(connection)) this.tellOver(connection, sessionId, snapshot);
    }
  }

  private sendSnapshot(connection: Connection, sessionId: string, snapshot: Snapshot) {
    // Snapshots travel by different paths and can arrive out of order; an older one changes nothing.
    if ((connection.snapshotVersions.get(sessionId) ?? -1) >= snapshot.version) return;
    connection.snapshotVersions.set(sessionId, snapshot.version);
    const { delivery } = this.ctx;
    // Anyone in a session is in every snapshot taken after they joined (their ticket came after
    // the join), so a viewer missing from one has left: refused, or left in another tab.
    if (isViewer(connection)) {
      const me = connection.identity.participantId;
      if (!snapshot.participants.some((p) => p.id === me)) {
        void this.closeLeft(connection, me);
        return;
      }
    }
    delivery.send(connection, {
      type: "session/participants",
      sessionId,
      version: snapshot.version,
      controllerId: snapshot.controllerId,
      participants: snapshot.participants,
    });
  }

  /**
   * A viewer whose participant is out (refused at the machine, left in another tab): why, and
   * closed; just "left" when the reason cannot be read.
   */
  async closeLeft(connection: Connection, participantId: string): Promise<void> {
    const reason = await this.ctx.store.leftReason(participantId).catch((error: unknown) => {
      this.ctx.log.warn({ err: error, participantId }, "cannot read why a participant left");
      return undefined;
    });
    this.ctx.delivery.close(connection, CLOSE_CODES.participantLeft, reason ?? "left", "left");
  }
}

function endLine(status: SessionState, reason?: string) {
  return `session ${status}${reason ? `: ${reason}` : ""}`;
}
