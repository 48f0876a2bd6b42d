/**
 * The interview desk's state machine (design flow 5): pending → provisioning → ready → active →
 * expiring → terminated, with error as the other end. Each legal move is a named transition; anything
 * else is an error, never a silent no-op. Shared by the API, the database layer, the desk provider
 * and the dashboard. Also the reasons a candidate's share link is refused, which the candidate page
 * shows.
 */
import { stateMachine } from "./state-table.ts";

export const DESK_STATES = [
  "pending",
  "provisioning",
  "ready",
  "active",
  "expiring",
  "terminated",
  "error",
] as const;
export type DeskState = (typeof DESK_STATES)[number];

const LIVE: readonly DeskState[] = ["pending", "provisioning", "ready", "active", "expiring"];

export const DESK_TRANSITIONS = {
  /** A provider took the desk on: it is starting the display and the programs (or hands out a warm one). */
  provision: { from: ["pending"], to: "provisioning" },
  /** The display is up and the desk agent is connected: the candidate may come. */
  ready: { from: ["provisioning"], to: "ready" },
  /** The candidate opened the share link (its first holder claimed it) on a ready desk. */
  claim: { from: ["ready"], to: "active" },
  /** Its time is nearly up: the candidate and the interviewers are warned. */
  warn: { from: ["active"], to: "expiring" },
  /** An interviewer gave it more time after the warning: back to work. */
  extend: { from: ["expiring"], to: "active" },
  /** Its time is up; whatever it was doing, the desk stops (the clock runs from creation). */
  expire: { from: LIVE, to: "terminated" },
  /** An interviewer or an admin ended it. */
  terminate: { from: LIVE, to: "terminated" },
  /** It could not be set up (provisioning failed) or carried on (the sandbox died); with a reason. */
  fail: { from: LIVE, to: "error" },
} as const satisfies Record<string, { from: readonly DeskState[]; to: DeskState }>;

export type DeskTransition = keyof typeof DESK_TRANSITIONS;

export const TERMINAL_DESK_STATES: readonly DeskState[] = ["terminated", "error"];

export const isTerminalDeskState = (state: DeskState) => TERMINAL_DESK_STATES.includes(state);

/** How each transition reads in "A desk that is X cannot …". */
const VERBS: Record<DeskTransition, string> = {
  provision: "be provisioned",
  ready: "become ready",
  claim: "be claimed",
  warn: "be warned of its expiry",
  extend: "be extended",
  expire: "expire",
  terminate: "be terminated",
  fail: "fail",
};

export class IllegalDeskTransition extends Error {
  readonly from: DeskState;
  readonly transition: DeskTransition;
  constructor(from: DeskState, transition: DeskTransition) {
    super(`A desk that is ${from} cannot ${VERBS[transition]}`);
    this.name = "IllegalDeskTransition";
    this.from = from;
    this.transition = transition;
  }
}

const deskMachine = stateMachine<DeskState, DeskTransition>(
  DESK_TRANSITIONS,
  (from, transition) => new IllegalDeskTransition(from, transition),
);

/** The state `transition` leads to from `from`, or an IllegalDeskTransition. */
export const nextDeskState = deskMachine.next;
/** Whether `transition` may start from `from` (the dashboard offers only these). */
export const canDeskTransition = deskMachine.can;

export const DESK_LIMITS = {
  /** The shortest time to live: a desk shorter than its own expiry warning is warned from the start. */
  minLifetimeMinutes: 2,
  /** A desk lives at most this long from its creation, extensions included: one working day. */
  maxLifetimeMinutes: 8 * 60,
  /** How long before its end a desk is warned: enough to save work or ask for more time. */
  expiryWarningMinutes: 5,
  /** Wrong PINs in a row before a link locks. With the lock below, a 6-digit PIN gets at most
   * 5 guesses per 15 minutes: 160 in a desk's 8 hours, a 0.016 % chance. */
  maxPinAttempts: 5,
  pinLockMinutes: 15,
} as const;

/**
 * Why a candidate's share link was refused. `ended`: the desk is terminated or in error;
 * `held_elsewhere`: another browser holds the link (a PIN, if the link has one, moves it here).
 */
export const DESK_LINK_REFUSALS = [
  "unknown",
  "revoked",
  "expired",
  "ended",
  "held_elsewhere",
  "pin_required",
  "pin_wrong",
  "locked",
] as const;
export type DeskLinkRefusal = (typeof DESK_LINK_REFUSALS)[number];
