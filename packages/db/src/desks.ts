/**
 * Interview desks in the database: every change of a desk's state goes through the table in
 * packages/protocol (desk-state.ts), in one transaction under the desk's row lock, with its audit
 * event (`data.deskId` ties it to the desk) and a control-feed notice. This is also the provider's
 * seam: it moves a desk through `provision` (recording its providerRef) → `ready`, or `fail` with a
 * reason, and hears of terminate, expire and extend on the control feed (`kind: "desk"`).
 */
import {
  DESK_LIMITS,
  type DeskState,
  type DeskTransition,
  IllegalDeskTransition,
  isTerminalDeskState,
  nextDeskState,
  TERMINAL_DESK_STATES,
} from "@rd/protocol";
import { and, eq, isNull, lte, notInArray } from "drizzle-orm";
import { appendEvent } from "./audit.ts";
import type { Executor } from "./client.ts";
import { notifyControl } from "./control-feed.ts";
import { stopQuietly } from "./participants.ts";
import { type ActorType, type Desk, DeskLinks, Desks, type deskState } from "./schema.ts";

export { IllegalDeskTransition };

// The schema's enum and the protocol's list must name the same states (a compile error otherwise).
type SchemaDeskState = (typeof deskState.enumValues)[number];
const _sameStates: [DeskState, SchemaDeskState] extends [SchemaDeskState, DeskState] ? true : never = true;

type Actor = { type: ActorType; id?: string | null };

/** The audit event each transition writes. */
export const DESK_TRANSITION_EVENTS: Record<DeskTransition, string> = {
  provision: "desk_provisioning",
  ready: "desk_ready",
  claim: "desk_claimed",
  warn: "desk_expiring",
  extend: "desk_extended",
  expire: "desk_expired",
  terminate: "desk_terminated",
  fail: "desk_failed",
};

export class DeskNotFound extends Error {
  constructor() {
    super("Desk was not found. It may have been removed.");
    this.name = "DeskNotFound";
  }
}

/** An extension the desk cannot have; the message says how much it still may. */
export class DeskExtendRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = "DeskExtendRefused";
  }
}

/** The desk `deskId` of `tenantId`, locked for the rest of the transaction; DeskNotFound otherwise. */
export async function lockDesk(tx: Executor, tenantId: string, deskId: string): Promise<Desk> {
  const [desk] = await tx
    .select()
    .from(Desks)
    .where(and(eq(Desks.id, deskId), eq(Desks.tenantId, tenantId)))
    .for("update");
  if (!desk) throw new DeskNotFound();
  return desk;
}

export interface DeskTransitionOptions {
  tenantId: string;
  deskId: string;
  transition: DeskTransition;
  actor: Actor;
  /** Stored as the desk's state reason and in the event: who terminated it, why it failed. */
  reason?: string;
  /** The provider's handle on its sandbox (with `provision` or `ready`). */
  providerRef?: string;
  /** The live session the desk is shown in. */
  sessionId?: string | null;
  /** Extra audit data. */
  data?: Record<string, unknown>;
  now?: Date;
}

/**
 * Applies `transition` to the desk; throws DeskNotFound for an id outside the tenant and
 * IllegalDeskTransition when the desk's current state does not allow it.
 */
export async function transitionDesk(executor: Executor, options: DeskTransitionOptions): Promise<Desk> {
  return executor.transaction(async (tx) => {
    const desk = await lockDesk(tx, options.tenantId, options.deskId);
    const state = nextDeskState(desk.state, options.transition);
    const now = options.now ?? new Date();
    const [updated] = await tx
      .update(Desks)
      .set({
        state,
        stateReason: options.reason ?? null,
        ...(isTerminalDeskState(state) ? { endedAt: now } : {}),
        ...(options.providerRef !== undefined ? { providerRef: options.providerRef } : {}),
        ...(options.sessionId !== undefined ? { sessionId: options.sessionId } : {}),
      })
      .where(eq(Desks.id, desk.id))
      .returning();
    await deskEvent(tx, updated!, DESK_TRANSITION_EVENTS[options.transition], options.actor, {
      from: desk.state,
      to: state,
      ...(options.reason ? { reason: options.reason } : {}),
      ...options.data,
    });
    // A desk that ends takes its live session with it, in this transaction: the candidate and the
    // interviewers watching hear at once, whoever ended it (an interviewer, the clock, a failure).
    if (isTerminalDeskState(state) && updated!.sessionId) {
      await stopQuietly(tx, updated!.tenantId, updated!.sessionId, "desk_ended", options.actor);
    }
    return updated!;
  });
}

/**
 * Gives a live desk `minutes` more, up to DESK_LIMITS.maxLifetimeMinutes from its creation; its live
 * link lasts as long. A desk that was warned of its expiry goes back to active (the `extend`
 * transition). IllegalDeskTransition when it has ended, DeskExtendRefused beyond the limit or when
 * its time has run out already.
 */
export async function extendDesk(
  executor: Executor,
  options: { tenantId: string; deskId: string; minutes: number; actor: Actor; reason: string; now?: Date },
): Promise<Desk> {
  return executor.transaction(async (tx) => {
    const desk = await lockDesk(tx, options.tenantId, options.deskId);
    if (isTerminalDeskState(desk.state)) throw new IllegalDeskTransition(desk.state, "extend");
    const now = options.now ?? new Date();
    if (desk.expiresAt <= now) {
      throw new DeskExtendRefused("This desk's time has run out already; it is being shut down.");
    }
    const limit = new Date(desk.createdAt.getTime() + DESK_LIMITS.maxLifetimeMinutes * 60_000);
    const expiresAt = new Date(desk.expiresAt.getTime() + options.minutes * 60_000);
    if (expiresAt > limit) {
      const left = Math.floor((limit.getTime() - desk.expiresAt.getTime()) / 60_000);
      const hours = DESK_LIMITS.maxLifetimeMinutes / 60;
      throw new DeskExtendRefused(
        left > 0
          ? `A desk lives at most ${hours} hours from its creation: this one can be extended by at most ${left} more minutes (until ${limit.toISOString()}).`
          : `A desk lives at most ${hours} hours from its creation, and this one has reached that limit: create a new desk for more time.`,
      );
    }
    const state = desk.state === "expiring" ? nextDeskState(desk.state, "extend") : desk.state;
    const [updated] = await tx
      .update(Desks)
      .set({ expiresAt, state, ...(state !== desk.state ? { stateReason: options.reason } : {}) })
      .where(eq(Desks.id, desk.id))
      .returning();
    await tx
      .update(DeskLinks)
      .set({ expiresAt })
      .where(and(eq(DeskLinks.deskId, desk.id), isNull(DeskLinks.revokedAt)));
    await deskEvent(tx, updated!, "desk_extended", options.actor, {
      from: desk.state,
      to: state,
      minutes: options.minutes,
      previousExpiresAt: desk.expiresAt.toISOString(),
      expiresAt: expiresAt.toISOString(),
      reason: options.reason,
    });
    return updated!;
  });
}

/**
 * The expiry clock, run periodically by whoever hosts the desks: warns active desks within
 * DESK_LIMITS.expiryWarningMinutes of their end and expires every live desk whose time is up.
 * A desk another process moved meanwhile is refused by the table and skipped.
 */
export async function sweepDeskExpiry(
  executor: Executor,
  now: Date = new Date(),
): Promise<{ warned: number; expired: number }> {
  const live = notInArray(Desks.state, [...TERMINAL_DESK_STATES]);
  const due = await executor
    .select({ id: Desks.id, tenantId: Desks.tenantId })
    .from(Desks)
    .where(and(live, lte(Desks.expiresAt, now)));
  const soon = new Date(now.getTime() + DESK_LIMITS.expiryWarningMinutes * 60_000);
  const nearing = await executor
    .select({ id: Desks.id, tenantId: Desks.tenantId })
    .from(Desks)
    .where(and(eq(Desks.state, "active"), lte(Desks.expiresAt, soon)));
  const apply = async (desks: { id: string; tenantId: string }[], transition: "warn" | "expire") => {
    let done = 0;
    for (const d of desks) {
      try {
        await transitionDesk(executor, {
          tenantId: d.tenantId,
          deskId: d.id,
          transition,
          actor: { type: "system" },
          reason: transition === "expire" ? "its time was up" : "its time is nearly up",
          now,
        });
        done += 1;
      } catch (error) {
        if (!(error instanceof IllegalDeskTransition)) throw error;
      }
    }
    return done;
  };
  const expired = await apply(due, "expire");
  const dueIds = new Set(due.map((d) => d.id));
  const warned = await apply(
    nearing.filter((d) => !dueIds.has(d.id)),
    "warn",
  );
  return { warned, expired };
}

/** Writes a desk's audit event (tied to it by `data.deskId`) and announces the change. */
export async function deskEvent(
  tx: Executor,
  desk: Pick<Desk, "id" | "tenantId" | "state" | "sessionId">,
  type: string,
  actor: Actor,
  data: Record<string, unknown>,
): Promise<void> {
  await appendEvent(tx, {
    tenantId: desk.tenantId,
    type,
    actor,
    sessionId: desk.sessionId,
    data: { deskId: desk.id, ...data },
  });
  await notifyControl(tx, { kind: "desk", deskId: desk.id, tenantId: desk.tenantId, state: desk.state });
}
