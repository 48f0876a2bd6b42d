/**
 * Relay: WebRTC negotiation (offer, answer, ICE) between the agent and one viewer of a session, one
 * peer connection per viewer. Frames go on as they came (the protocol's schemas are strict, so a
 * validated frame holds nothing unchecked), through the bus, so the two ends may sit on different
 * workers. Each end may only speak for itself: a viewer for its own participant, an agent for
 * sessions it is part of; the receiving worker checks the frame is for its connection's session.
 */
import type { SignalMessageOf } from "@rd/protocol";
import { type BusEnvelope, channels } from "../bus.ts";
import { type Connection, isAgent, isViewer } from "./connection.ts";
import type { HubContext } from "./context.ts";

type Negotiation = SignalMessageOf<"signal/offer" | "signal/answer" | "signal/ice">;

export class Relay {
  private readonly ctx: HubContext;

  constructor(ctx: HubContext) {
    this.ctx = ctx;
  }

  fromAgent(connection: Connection, message: Negotiation, raw: string): void {
    if (message.type === "signal/answer") {
      return this.ctx.delivery.refuse(
        connection,
        "forbidden",
        "the agent offers; viewers answer",
        message.type,
      );
    }
    // The viewer's worker checks that this participant belongs to the session (onViewerRelay).
    this.ctx.delivery.relay(channels.participant(message.participantId), message.sessionId, raw);
  }

  fromViewer(connection: Connection, message: Negotiation, raw: string): void {
    if (!isViewer(connection)) return;
    const { delivery } = this.ctx;
    if (message.type === "signal/offer") {
      return delivery.refuse(connection, "forbidden", "the agent offers; viewers answer", message.type);
    }
    if (message.participantId !== connection.identity.participantId) {
      return delivery.refuse(connection, "forbidden", "you can only negotiate for yourself", message.type);
    }
    delivery.relay(channels.agent(connection.identity.agentId), message.sessionId, raw);
  }

  onAgentRelay(connection: Connection, envelope: BusEnvelope & { kind: "relay" }) {
    if (isAgent(connection) && connection.sessions.has(envelope.sessionId))
      this.ctx.delivery.sendRaw(connection, envelope.raw);
  }

  onViewerRelay(connection: Connection, envelope: BusEnvelope & { kind: "relay" }) {
    if (
      isViewer(connection) &&
      connection.state === "open" &&
      connection.identity.sessionId === envelope.sessionId
    )
      this.ctx.delivery.sendRaw(connection, envelope.raw);
  }
}
