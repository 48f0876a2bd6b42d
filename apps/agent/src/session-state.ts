/**
 * The agent's side of one session, as a table: requested by the worker → (asking the person at the
 * machine) → accepted (session/accept sent) → active (the worker says so: viewers get peers) →
 * closed. Each legal move is named; anything else is an error, never a silent no-op.
 */
import { stateMachine } from "@rd/protocol";

export const AGENT_SESSION_STATES = ["requested", "asking", "accepted", "active", "closed"] as const;
export type AgentSessionState = (typeof AGENT_SESSION_STATES)[number];

export const AGENT_SESSION_TRANSITIONS = {
  /** The consent policy is `prompt`: the person at the machine is being asked. */
  ask: { from: ["requested"], to: "asking" },
  /** Consent given, or none needed (notify, unattended): session/accept goes to the worker. */
  accept: { from: ["requested", "asking"], to: "accepted" },
  /** The worker says the session is active: from now on each admitted viewer gets a peer. */
  activate: { from: ["accepted"], to: "active" },
  /** Over: denied, ended by anyone, failed, or the agent is stopping. */
  close: { from: ["requested", "asking", "accepted", "active"], to: "closed" },
} as const satisfies Record<string, { from: readonly AgentSessionState[]; to: AgentSessionState }>;
export type AgentSessionTransition = keyof typeof AGENT_SESSION_TRANSITIONS;

export class IllegalAgentSessionTransition extends Error {
  constructor(from: AgentSessionState, transition: AgentSessionTransition) {
    super(`An agent session that is ${from} cannot ${transition}`);
    this.name = "IllegalAgentSessionTransition";
  }
}

const machine = stateMachine<AgentSessionState, AgentSessionTransition>(
  AGENT_SESSION_TRANSITIONS,
  (from, transition) => new IllegalAgentSessionTransition(from, transition),
);
export const canMoveAgentSession = machine.can;
export const nextAgentSessionState = machine.next;
