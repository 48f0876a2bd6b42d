/**
 * The candidate's way onto their desk (design flow 5): the share link is claimed for their browser
 * (desk-links.ts), then they enter the desk's live session as its candidate participant and get a
 * signaling ticket, like a technician's Connect but without an account. A desk has one live session
 * at a time; the first claim after the desk is up (or after its last session ended: the candidate
 * closed the tab, the network dropped past the grace period) opens a new one. The desk itself
 * outlives its sessions: a candidate who comes back finds their desktop as they left it.
 */
import { signTicket } from "@rd/auth/tickets";
import {
  Agents,
  openSession,
  type Database,
  type Desk,
  Desks,
  type Executor,
  joinAsCandidate,
  JoinRefused,
  lockDesk,
  RemoteSessions,
} from "@rd/db";
import { isTerminalSessionState } from "@rd/protocol";
import { and, eq, isNull } from "drizzle-orm";
import { type CandidateDesk, claimLink, type DeskLinkView, type LinkRefused } from "./desk-links.ts";

export type CandidateEntry =
  | LinkRefused
  /** The desk is still being prepared: ask again shortly. */
  | { ok: true; ready: false; desk: CandidateDesk; link: DeskLinkView; takeover: boolean }
  | {
      ok: true;
      ready: true;
      desk: CandidateDesk;
      link: DeskLinkView;
      takeover: boolean;
      sessionId: string;
      participantId: string;
      ticket: string;
      ticketExpiresAt: Date;
    };

/**
 * Claims the link behind `token` for `holderId` (with `pin` for a takeover or a PIN-protected
 * link) and, once the desk runs, puts the holder in its live session with a fresh ticket. Every
 * refusal is a LinkRefused with a sentence for the candidate.
 */
export async function enterDesk(
  db: Database,
  ticketKey: CryptoKey,
  { token, holderId, pin }: { token: string; holderId: string; pin?: string },
): Promise<CandidateEntry> {
  const claimed = await claimLink(db, token, holderId, pin);
  if (!claimed.ok) return claimed;
  const { desk, link, takeover } = claimed;
  if (desk.state !== "active" && desk.state !== "expiring")
    return { ok: true, ready: false, desk, link, takeover };
  let entered;
  try {
    entered = await db.transaction(async (tx) => {
      // Under the desk's lock: two tabs of the candidate opening at once find one session.
      const locked = await lockDesk(tx, desk.tenantId, desk.id);
      let sessionId = locked.sessionId;
      if (sessionId) {
        const [session] = await tx
          .select({ status: RemoteSessions.status })
          .from(RemoteSessions)
          .where(eq(RemoteSessions.id, sessionId));
        if (!session || isTerminalSessionState(session.status)) sessionId = null;
      }
      if (!sessionId) sessionId = await openDeskSession(tx, locked);
      const participant = await joinAsCandidate(tx, {
        tenantId: desk.tenantId,
        sessionId,
        deskLinkId: link.id,
      });
      return { sessionId, participantId: participant.id };
    });
  } catch (error) {
    // The session ended between the lookup and the join: the candidate's page simply asks again.
    if (error instanceof JoinRefused) return { ok: true, ready: false, desk, link, takeover };
    throw error;
  }
  const { ticket, expiresAt } = await signTicket(ticketKey, {
    sid: entered.sessionId,
    tid: desk.tenantId,
    uid: link.id,
    pid: entered.participantId,
    role: "candidate",
    name: desk.candidateLabel.slice(0, 100) || "Candidate",
    email: "",
  });
  return {
    ok: true,
    ready: true,
    desk,
    link,
    takeover,
    ...entered,
    ticket,
    ticketExpiresAt: expiresAt,
  };
}

/** A new session on the desk's agent, owned by the interviewer who created the desk. */
async function openDeskSession(tx: Executor, desk: Desk): Promise<string> {
  const [agent] = await tx
    .select({ id: Agents.id, name: Agents.name })
    .from(Agents)
    .where(and(eq(Agents.deskId, desk.id), isNull(Agents.removedAt)));
  if (!agent || !desk.createdBy) {
    throw new Error(`desk ${desk.id} is ${desk.state} but has no agent or interviewer`);
  }
  const session = await openSession(tx, {
    values: { tenantId: desk.tenantId, agentId: agent.id, technicianId: desk.createdBy, deskId: desk.id },
    actor: { type: "system" },
    data: { deskId: desk.id, agent: agent.name, by: "candidate" },
  });
  await tx.update(Desks).set({ sessionId: session.id }).where(eq(Desks.id, desk.id));
  return session.id;
}
