/**
 * A desk's share link for its candidate (design flow 5): issued with a 256-bit random token, of which
 * only the SHA-256 is stored, and optionally a 6-digit PIN, stored as argon2id. The candidate page
 * resolves a link and claims it for its browser: one browser holds a link at a time; another may take
 * it over only with the PIN; DESK_LIMITS.maxPinAttempts wrong PINs lock the link for
 * DESK_LIMITS.pinLockMinutes. Every refusal is typed (DESK_LINK_REFUSALS) with a sentence for the
 * candidate.
 */
import { randomInt } from "node:crypto";
import { generateToken, hashPassword, sha256Hex, verifyPassword } from "@rd/auth";
import {
  type Database,
  type Desk,
  type DeskLink,
  DeskLinks,
  Desks,
  deskEvent,
  type Executor,
  lockDesk,
  transitionDesk,
} from "@rd/db";
import { DESK_LIMITS, type DeskLinkRefusal, isTerminalDeskState } from "@rd/protocol";
import { and, eq } from "drizzle-orm";

/** What the dashboard may see of a link: never its hashes. */
export interface DeskLinkView {
  id: string;
  deskId: string;
  pinProtected: boolean;
  /** A browser holds it. */
  held: boolean;
  heldAt: Date | null;
  failedPinAttempts: number;
  lockedUntil: Date | null;
  revokedAt: Date | null;
  createdAt: Date;
  expiresAt: Date;
}

export const deskLinkView = (link: DeskLink): DeskLinkView => ({
  id: link.id,
  deskId: link.deskId,
  pinProtected: link.pinHash !== null,
  held: link.holder !== null,
  heldAt: link.heldAt,
  failedPinAttempts: link.failedPinAttempts,
  lockedUntil: link.lockedUntil,
  revokedAt: link.revokedAt,
  createdAt: link.createdAt,
  expiresAt: link.expiresAt,
});

/** What the candidate page needs of the desk behind a link. */
export type CandidateDesk = Pick<
  Desk,
  "id" | "tenantId" | "state" | "candidateLabel" | "template" | "expiresAt" | "sessionId"
>;

const candidateDesk = (desk: Desk): CandidateDesk => ({
  id: desk.id,
  tenantId: desk.tenantId,
  state: desk.state,
  candidateLabel: desk.candidateLabel,
  template: desk.template,
  expiresAt: desk.expiresAt,
  sessionId: desk.sessionId,
});

export interface LinkRefused {
  ok: false;
  reason: DeskLinkRefusal;
  /** A sentence for the candidate. */
  message: string;
  /** `pin_wrong`: wrong PINs left before the link locks. */
  attemptsLeft?: number;
  /** `locked`: when the link takes PINs again. */
  retryAt?: Date;
}

export type ResolvedLink = { ok: true; desk: CandidateDesk; link: DeskLinkView };
export type ClaimedLink = ResolvedLink & { takeover: boolean };

const ASK = "Ask your interviewer for a new link.";

function refused(
  reason: DeskLinkRefusal,
  extra: Partial<LinkRefused> = {},
  pinProtected = false,
): LinkRefused {
  const messages: Record<DeskLinkRefusal, string> = {
    unknown: `This link is not valid: check that you copied all of it. ${ASK}`,
    revoked: `This link was withdrawn. ${ASK}`,
    expired: `This link has expired. ${ASK}`,
    ended: "This interview desk has ended.",
    held_elsewhere: pinProtected
      ? "This desk is open in another browser. Enter its PIN to move it here."
      : `This desk is open in another browser, and only one may hold it. If that was not you, ${ASK.toLowerCase()}`,
    pin_required: "Enter the PIN your interviewer gave you.",
    pin_wrong: `That PIN is not right: ${extra.attemptsLeft} more ${extra.attemptsLeft === 1 ? "try" : "tries"} before this link locks for ${DESK_LIMITS.pinLockMinutes} minutes.`,
    locked: `Too many wrong PINs: this link is locked until ${extra.retryAt?.toISOString()}.`,
  };
  return { ok: false, reason, message: messages[reason], ...extra };
}

/** The refusal a link and its desk deserve whoever asks, or null when the link works. */
function linkState(link: DeskLink, desk: Desk, now: Date): LinkRefused | null {
  if (link.revokedAt) return refused("revoked");
  if (isTerminalDeskState(desk.state)) return refused("ended");
  if (link.expiresAt <= now || desk.expiresAt <= now) return refused("expired");
  return null;
}

/** A 6-digit PIN, uniformly drawn (leading zeros kept). */
export function generateDeskPin(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, "0");
}

/**
 * Creates the desk's live link (the caller revokes any other first, and records the event). Returns
 * the token, and the PIN when asked for one: both exist only in this answer.
 */
export async function issueDeskLink(
  tx: Executor,
  desk: Pick<Desk, "id" | "tenantId" | "expiresAt">,
  { pin }: { pin: boolean },
): Promise<{ link: DeskLinkView; token: string; pin: string | null }> {
  const token = generateToken();
  const code = pin ? generateDeskPin() : null;
  const [link] = await tx
    .insert(DeskLinks)
    .values({
      deskId: desk.id,
      tenantId: desk.tenantId,
      tokenHash: sha256Hex(token),
      // argon2id rather than a salted SHA-256: a million PINs are hashed in seconds otherwise.
      pinHash: code ? await hashPassword(code) : null,
      expiresAt: desk.expiresAt,
    })
    .returning();
  return { link: deskLinkView(link!), token, pin: code };
}

async function lookUp(executor: Executor, token: string) {
  // A real token is 43 characters; anything far off is not worth a query.
  if (typeof token !== "string" || token.length < 16 || token.length > 128) return undefined;
  const [row] = await executor
    .select({ link: DeskLinks, desk: Desks })
    .from(DeskLinks)
    .innerJoin(Desks, and(eq(Desks.id, DeskLinks.deskId), eq(Desks.tenantId, DeskLinks.tenantId)))
    .where(eq(DeskLinks.tokenHash, sha256Hex(token)));
  return row;
}

/**
 * The desk and link behind `token` if the link works: not revoked, not expired, its desk not ended.
 * Says nothing about who holds it (claimLink does).
 */
export async function resolveLink(
  db: Database,
  token: string,
  now: Date = new Date(),
): Promise<ResolvedLink | LinkRefused> {
  const row = await lookUp(db, token);
  if (!row) return refused("unknown");
  return (
    linkState(row.link, row.desk, now) ?? {
      ok: true,
      desk: candidateDesk(row.desk),
      link: deskLinkView(row.link),
    }
  );
}

/**
 * Claims the link behind `token` for the browser `holderId` (an opaque id the candidate page keeps):
 * the first browser holds it; the holder may claim again; another browser is refused
 * `held_elsewhere` unless it gives the link's PIN, which moves the link to it (a takeover). A link
 * with a PIN asks for it on the first claim too. Wrong PINs count, and lock the link. A claim on a
 * ready desk makes it active (the `claim` transition); on a desk still being prepared, the page
 * claims again once it is ready.
 */
export async function claimLink(
  db: Database,
  token: string,
  holderId: string,
  pin?: string,
  now: Date = new Date(),
): Promise<ClaimedLink | LinkRefused> {
  const found = await lookUp(db, token);
  if (!found) return refused("unknown");
  // Refusals return (not throw) so that what they count — wrong PINs, a lock — commits.
  return db.transaction(async (tx) => {
    // The desk first, then the link: the order every change to a desk and its links takes.
    const desk = await lockDesk(tx, found.desk.tenantId, found.desk.id);
    const [link] = await tx.select().from(DeskLinks).where(eq(DeskLinks.id, found.link.id)).for("update");
    const refusal = linkState(link!, desk, now);
    if (refusal) return refusal;
    const me = sha256Hex(holderId);
    const pinProtected = link!.pinHash !== null;
    const candidate = { type: "system" as const };
    const about = { linkId: link!.id, by: "candidate" };

    if (link!.holder !== me) {
      if (link!.lockedUntil && link!.lockedUntil > now)
        return refused("locked", { retryAt: link!.lockedUntil });
      const elsewhere = link!.holder !== null;
      if (elsewhere && (!pinProtected || !pin)) {
        await deskEvent(tx, desk, "desk_link_refused", candidate, { ...about, reason: "held_elsewhere" });
        return refused("held_elsewhere", {}, pinProtected);
      }
      if (pinProtected && !pin) return refused("pin_required");
      if (pinProtected && !(await verifyPassword(link!.pinHash!, pin!.replace(/\s/g, "")))) {
        const attempts = link!.failedPinAttempts + 1;
        const locks = attempts >= DESK_LIMITS.maxPinAttempts;
        const lockedUntil = locks ? new Date(now.getTime() + DESK_LIMITS.pinLockMinutes * 60_000) : null;
        // Locking starts the count again: every lock is earned by as many wrong PINs.
        await tx
          .update(DeskLinks)
          .set({ failedPinAttempts: locks ? 0 : attempts, lockedUntil })
          .where(eq(DeskLinks.id, link!.id));
        await deskEvent(tx, desk, "desk_link_pin_failed", candidate, {
          ...about,
          attempts,
          ...(lockedUntil ? { lockedUntil: lockedUntil.toISOString() } : {}),
        });
        return locks
          ? refused("locked", { retryAt: lockedUntil! })
          : refused("pin_wrong", { attemptsLeft: DESK_LIMITS.maxPinAttempts - attempts });
      }
      await tx
        .update(DeskLinks)
        .set({ holder: me, heldAt: now, failedPinAttempts: 0, lockedUntil: null })
        .where(eq(DeskLinks.id, link!.id));
      await deskEvent(tx, desk, elsewhere ? "desk_link_taken_over" : "desk_link_claimed", candidate, about);
    }

    const current =
      desk.state === "ready"
        ? await transitionDesk(tx, {
            tenantId: desk.tenantId,
            deskId: desk.id,
            transition: "claim",
            actor: candidate,
            reason: "the candidate opened the link",
            data: { linkId: link!.id },
            now,
          })
        : desk;
    const [after] = await tx.select().from(DeskLinks).where(eq(DeskLinks.id, link!.id));
    return {
      ok: true,
      desk: candidateDesk(current),
      link: deskLinkView(after!),
      takeover: link!.holder !== null && link!.holder !== me,
    };
  });
}
