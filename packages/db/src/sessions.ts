/**
 * Moves a remote session through its state machine (packages/protocol), records the move in the
 * audit chain and announces it on the control feed, in one transaction. Used by the API and the
 * signaling worker alike, so every transition, whoever makes it, follows the same table, leaves the
 * same trail and reaches every process.
 */
import { IllegalSessionTransition, nextSessionState, type SessionTransition } from "@rd/protocol";
import { and, eq, isNull } from "drizzle-orm";
import { appendEvent } from "./audit.ts";
import type { Executor } from "./client.ts";
import { notifyControl } from "./control-feed.ts";
import { type ActorType, type RemoteSession, RemoteSessions, SessionParticipants } from "./schema.ts";

/** The audit event each transition writes. */
export const TRANSITION_EVENTS: Record<SessionTransition, string> = {
  askConsent: "session_consent_requested",
  start: "session_started",
  deny: "session_denied",
  end: "session_ended",
  fail: "session_failed",
};

/**
 * Opens a session (pending) on an agent: the row, its `session_requested` event, and the notice that
 * tells the worker holding the agent's connection to ask it at once.
 */
export async function openSession(
  tx: Executor,
  options: {
    values: typeof RemoteSessions.$inferInsert;
    actor: { type: ActorType; id?: string | null };
    data: Record<string, unknown>;
  },
): Promise<RemoteSession> {
  const [session] = await tx.insert(RemoteSessions).values(options.values).returning();
  await appendEvent(tx, {
    tenantId: session!.tenantId,
    type: "session_requested",
    actor: options.actor,
    sessionId: session!.id,
    agentId: session!.agentId,
    data: options.data,
  });
  await notifyControl(tx, {
    kind: "session",
    sessionId: session!.id,
    agentId: session!.agentId,
    tenantId: session!.tenantId,
    status: session!.status,
  });
  return session!;
}

export class SessionNotFound extends Error {
  constructor() {
    super("Session was not found. It may have been removed.");
    this.name = "SessionNotFound";
  }
}

export interface TransitionOptions {
  tenantId: string;
  sessionId: string;
  transition: SessionTransition;
  actor: { type: ActorType; id?: string | null };
  /** Stored as end_reason for the terminal transitions. */
  reason?: string;
  /** Merged into the session's connection metadata (codec, route…). */
  connection?: Record<string, unknown>;
  /** Extra audit data. */
  data?: Record<string, unknown>;
  now?: Date;
}

/**
 * Applies `transition` to the session; throws SessionNotFound for an id outside the tenant and
 * IllegalSessionTransition when the session's current state does not allow it.
 */
export async function transitionSession(
  executor: Executor,
  options: TransitionOptions,
): Promise<RemoteSession> {
  return executor.transaction(async (tx) => {
    const [session] = await tx
      .select()
      .from(RemoteSessions)
      .where(and(eq(RemoteSessions.id, options.sessionId), eq(RemoteSessions.tenantId, options.tenantId)))
      .for("update");
    if (!session) throw new SessionNotFound();
    const status = nextSessionState(session.status, options.transition);
    const now = options.now ?? new Date();
    const terminal = status === "ended" || status === "denied" || status === "failed";
    const [updated] = await tx
      .update(RemoteSessions)
      .set({
        status,
        ...(status === "active" ? { startedAt: now } : {}),
        ...(terminal
          ? {
              endedAt: now,
              endReason: options.reason ?? null,
              durationMs: session.startedAt ? now.getTime() - session.startedAt.getTime() : null,
            }
          : {}),
        ...(options.connection ? { connection: { ...session.connection, ...options.connection } } : {}),
        // Over: nobody drives any more, and everyone still in it is out.
        ...(terminal ? { controllerId: null, participantsVersion: session.participantsVersion + 1 } : {}),
      })
      .where(eq(RemoteSessions.id, session.id))
      .returning();
    if (terminal) {
      await tx
        .update(SessionParticipants)
        .set({ leftAt: now, leftReason: "session_over", connected: false, controlRequestedAt: null })
        .where(and(eq(SessionParticipants.sessionId, session.id), isNull(SessionParticipants.leftAt)));
    }
    await appendEvent(tx, {
      tenantId: options.tenantId,
      type: TRANSITION_EVENTS[options.transition],
      actor: options.actor,
      sessionId: session.id,
      agentId: session.agentId,
      data: {
        from: session.status,
        to: status,
        ...(options.reason ? { reason: options.reason } : {}),
        ...options.data,
      },
    });
    await notifyControl(tx, {
      kind: "session",
      sessionId: session.id,
      agentId: session.agentId,
      tenantId: session.tenantId,
      status,
      ...(options.reason ? { reason: options.reason } : {}),
    });
    return updated!;
  });
}

export { IllegalSessionTransition };
