/**
 * Who is in a session and who drives it (design flow 3, "Participants"), as two tables. A
 * participant's lifecycle: waiting (the agent has not let them see the screen yet) → admitted →
 * left. The session's control: at most one controller; others ask, the controller hands it over or
 * gives it up, the session's owner or an admin takes it. Pure functions: the database applies them
 * under the session's row lock, the dashboard reads the same rules to offer the right buttons, and
 * the agent obeys the outcome (it injects input from the controller only).
 */

import { stateMachine } from "./state-table.ts";

export const PARTICIPANT_KINDS = ["technician", "recorder", "candidate"] as const;
/** Technicians (and admins) may hold control; a recorder (a later issue) only watches. */
export type ParticipantKind = (typeof PARTICIPANT_KINDS)[number];

export const SESSION_LIMITS = {
  /** People watching a session besides its controller; each costs the agent a peer connection. */
  observers: 8,
} as const;

// ——— A participant's lifecycle ———

export const PARTICIPANT_STATES = ["waiting", "admitted", "left"] as const;
export type ParticipantState = (typeof PARTICIPANT_STATES)[number];

export const PARTICIPANT_TRANSITIONS = {
  /** The agent's policy, or the person at the machine, lets this participant see the screen. */
  admit: { from: ["waiting"], to: "admitted" },
  /** The person at the machine said no to this participant, or did not answer in time. */
  refuse: { from: ["waiting"], to: "left" },
  /** Left on purpose, stayed away past the grace period, was deactivated, or the session is over. */
  leave: { from: ["waiting", "admitted"], to: "left" },
} as const satisfies Record<string, { from: readonly ParticipantState[]; to: ParticipantState }>;
export type ParticipantTransition = keyof typeof PARTICIPANT_TRANSITIONS;

/** Why a participant is no longer in a session; stored and shown in the timeline. */
export const PARTICIPANT_LEAVE_REASONS = [
  "left",
  "disconnected",
  "denied_by_user",
  "consent_timeout",
  "user_deactivated",
  "session_over",
  "interrupted",
  /** A candidate whose share link was revoked or replaced. */
  "link_revoked",
] as const;
export type ParticipantLeaveReason = (typeof PARTICIPANT_LEAVE_REASONS)[number];

export class IllegalParticipantTransition extends Error {
  constructor(from: ParticipantState, transition: ParticipantTransition) {
    super(`A participant who is ${from} cannot ${transition}`);
    this.name = "IllegalParticipantTransition";
  }
}

/** The state `transition` leads to from `from`, or an IllegalParticipantTransition. */
export const nextParticipantState = stateMachine<ParticipantState, ParticipantTransition>(
  PARTICIPANT_TRANSITIONS,
  (from, transition) => new IllegalParticipantTransition(from, transition),
).next;

// ——— Control ———

export interface ControlState {
  /** The participant whose input the agent injects, or null when nobody drives. */
  controller: string | null;
  /** Participants who asked for control, oldest first. */
  requests: readonly string[];
}

/** What the rules need to know of a participant. */
export interface ControlActor {
  id: string;
  /** Admitted and of a kind that may drive (technician). */
  capable: boolean;
  /** The session's owner (who opened it) or an admin of its tenant: may take control without asking. */
  mayTake: boolean;
}

export type ControlAction =
  | { type: "request"; by: ControlActor }
  | { type: "grant"; by: ControlActor; to: ControlActor }
  | { type: "release"; by: ControlActor }
  | { type: "take"; by: ControlActor }
  /** The participant left: whatever control or request it had goes with it. Always legal. */
  | { type: "drop"; by: ControlActor };
export type ControlActionType = ControlAction["type"];

/** The audit event a control change writes; null when nothing changed worth recording. */
export type ControlEvent = "control_requested" | "control_granted" | "control_released" | "control_taken";

interface ControlRule<A extends ControlAction> {
  /** Why the action is not allowed now, or null when it is. */
  refuse(state: ControlState, action: A): string | null;
  apply(state: ControlState, action: A): { state: ControlState; event: ControlEvent | null };
}

const without = (list: readonly string[], id: string) => list.filter((x) => x !== id);

/**
 * The control table. Each rule says when it is refused (in words for the person who tried) and
 * what it does. "request" with nobody in control is granted at once: there is nobody to ask.
 */
export const CONTROL_RULES: { [T in ControlActionType]: ControlRule<Extract<ControlAction, { type: T }>> } = {
  request: {
    refuse: (s, { by }) =>
      !by.capable
        ? "Only an admitted technician can ask for control."
        : s.controller === by.id
          ? "You already have control."
          : s.requests.includes(by.id)
            ? "You have already asked for control."
            : null,
    apply: (s, { by }) =>
      s.controller === null
        ? { state: { controller: by.id, requests: without(s.requests, by.id) }, event: "control_granted" }
        : { state: { ...s, requests: [...s.requests, by.id] }, event: "control_requested" },
  },
  grant: {
    refuse: (s, { by, to }) =>
      s.controller !== by.id
        ? "Only the participant who has control can hand it over."
        : to.id === by.id
          ? "You already have control."
          : !to.capable
            ? "Control can only go to an admitted technician who is still in the session."
            : null,
    apply: (s, { to }) => ({
      state: { controller: to.id, requests: without(s.requests, to.id) },
      event: "control_granted",
    }),
  },
  release: {
    refuse: (s, { by }) => (s.controller !== by.id ? "You do not have control." : null),
    apply: (s) => ({ state: { ...s, controller: null }, event: "control_released" }),
  },
  take: {
    refuse: (s, { by }) =>
      !by.capable
        ? "Only an admitted technician can take control."
        : !by.mayTake
          ? "Only the technician who opened the session or an administrator can take control; ask for it instead."
          : s.controller === by.id
            ? "You already have control."
            : null,
    apply: (s, { by }) => ({
      state: { controller: by.id, requests: without(s.requests, by.id) },
      event: "control_taken",
    }),
  },
  drop: {
    refuse: () => null,
    apply: (s, { by }) => ({
      state: {
        controller: s.controller === by.id ? null : s.controller,
        requests: without(s.requests, by.id),
      },
      event: s.controller === by.id ? "control_released" : null,
    }),
  },
};

export class IllegalControlChange extends Error {
  readonly action: ControlActionType;
  constructor(action: ControlActionType, message: string) {
    super(message);
    this.name = "IllegalControlChange";
    this.action = action;
  }
}

/** Applies one control action; throws IllegalControlChange (with a sentence) when it is refused. */
export function applyControl(
  state: ControlState,
  action: ControlAction,
): { state: ControlState; event: ControlEvent | null } {
  const rule = CONTROL_RULES[action.type] as ControlRule<ControlAction>;
  const why = rule.refuse(state, action);
  if (why) throw new IllegalControlChange(action.type, why);
  return rule.apply(state, action);
}
