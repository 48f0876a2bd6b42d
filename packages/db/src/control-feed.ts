/**
 * The control feed: how every process hears that a session, its participants, an agent, a user or a
 * desk changed, whatever the deployment (the dashboard and the worker in one process, a worker of its
 * own, several workers over Redis). A change is announced with `pg_notify` inside the transaction
 * that makes it, so the notice goes out exactly when the change commits, and never for one that
 * rolled back; every worker listens on the same channel of the database it already shares.
 */
import { sql } from "drizzle-orm";
import { z } from "zod";
import { DESK_STATES, SESSION_STATES } from "@rd/protocol";
import type { Executor } from "./client.ts";

export const CONTROL_CHANNEL = "rd_control";

const id = z.uuid();
export const controlNotice = z.discriminatedUnion("kind", [
  /** The session moved through its state machine. */
  z.object({
    kind: z.literal("session"),
    sessionId: id,
    agentId: id,
    tenantId: id,
    status: z.enum(SESSION_STATES),
    reason: z.string().optional(),
  }),
  /** Someone joined, left, was admitted, connected or went away, or control changed hands. */
  z.object({ kind: z.literal("participants"), sessionId: id, agentId: id, version: z.number() }),
  /** The agent was removed: its connections close, its cached credential is forgotten. */
  z.object({ kind: z.literal("agent-revoked"), agentId: id }),
  /** The user was deactivated: their viewer connections close. */
  z.object({ kind: z.literal("user-revoked"), userId: id }),
  /** The user's role changed: their live viewer connections act with the new one. */
  z.object({ kind: z.literal("user-role"), userId: id, admin: z.boolean() }),
  /**
   * An interview desk changed: its state, its expiry, or its share link (revoked, replaced). The
   * provider stops a terminated desk; a candidate page whose link died is closed.
   */
  z.object({ kind: z.literal("desk"), deskId: id, tenantId: id, state: z.enum(DESK_STATES) }),
  /** A recording was started, asked to stop, or ended: recorders pick it up or let it go. */
  z.object({ kind: z.literal("recording"), recordingId: id, sessionId: id }),
]);
export type ControlNotice = z.infer<typeof controlNotice>;

/** Queues a notice; it is delivered when (and only if) the surrounding transaction commits. */
export async function notifyControl(executor: Executor, notice: ControlNotice): Promise<void> {
  await executor.execute(sql`select pg_notify(${CONTROL_CHANNEL}, ${JSON.stringify(notice)})`);
}

/** Parses one notification's payload; undefined (and the caller logs) for anything unexpected. */
export function parseControlNotice(payload: string): ControlNotice | undefined {
  try {
    const result = controlNotice.safeParse(JSON.parse(payload));
    return result.success ? result.data : undefined;
  } catch {
    return undefined;
  }
}
