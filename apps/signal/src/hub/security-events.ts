/**
 * The worker's security events: refused viewer tickets, refused agent credentials, and connections
 * refused because their address holds too many that have not said hello. Each is a structured
 * warning with the client's address and the reason (never the secret, never the ticket) and, where
 * the tenant is known for certain, an audit event in its trail (`ticket_refused`,
 * `agent_credential_refused`). A flood must not become a flood of log lines or audit writes: per
 * client address (IPv6 by its /64) there is at most one warning per kind every 10 s and one audit
 * event per type and tenant a minute, each saying how many refusals it stands for.
 *
 * The tenant is known when the worker itself vouches for it: a ticket signed with our key (expired,
 * replayed, or naming a participation that does not exist or a deactivated user), or an agent id
 * that exists (wrong secret, or removed). A ticket with a bad signature names whatever tenant its
 * author liked, so it is logged only, as is an agent id nobody enrolled.
 */
import { clientKey } from "@rd/auth/client-key";
import type { Logger } from "@rd/log";
import type { SignalStore } from "../store.ts";
import { KeyedThrottle } from "./keyed-throttle.ts";

/** One warning per address and kind this often is enough to see an attack and where it comes from. */
const LOG_WINDOW_MS = 10_000;
/** The audit trail is read by people: one event per address, type and tenant a minute, with a count. */
const AUDIT_WINDOW_MS = 60_000;
/** Addresses remembered per throttle; past it, a widely distributed flood is counted, not itemised. */
const MAX_TRACKED = 10_000;
/** How often ended windows give up what they held back (as one warning / one event each). */
const SWEEP_MS = 10_000;

export type TicketRefusalReason =
  | "malformed"
  | "bad_signature"
  | "expired"
  /** Signed by an older dashboard, without a participant: a page from before an upgrade. */
  | "outdated"
  | "replayed"
  /** Signed by us, but no such participation in its tenant (a ticket naming another tenant's). */
  | "unknown_participant"
  | "deactivated_user"
  /** A candidate's ticket whose desk share link was revoked since it was issued. */
  | "revoked_link";
export type CredentialRefusalReason = "unknown_agent" | "removed" | "wrong_secret";

/** Refusals worth an admin's attention; the others are logged only. */
const AUDITED_TICKET_REASONS = new Set<TicketRefusalReason>([
  "expired",
  "replayed",
  "unknown_participant",
  "deactivated_user",
]);

type Kind = "ticket_refused" | "agent_credential_refused" | "too_many_unauthenticated";

interface Refusal {
  event: Kind;
  ip: string;
  reason: string;
  tenantId?: string;
  agentId?: string;
  sessionId?: string;
  userId?: string;
}
type AuditedRefusal = Refusal & { event: "ticket_refused" | "agent_credential_refused"; tenantId: string };

const MESSAGES: Record<Kind, string> = {
  ticket_refused: "refused a viewer's signaling ticket",
  agent_credential_refused: "refused an agent's credential",
  too_many_unauthenticated: "refused a connection: too many from this address have not said hello yet",
};

export interface SecurityEventsDeps {
  store: Pick<SignalStore, "recordRefusal">;
  log: Logger;
  now?: () => number;
}

export class SecurityEvents {
  private readonly store: SecurityEventsDeps["store"];
  private readonly log: Logger;
  private readonly warnings: KeyedThrottle<Refusal>;
  private readonly audits: KeyedThrottle<AuditedRefusal>;
  private sweeper?: ReturnType<typeof setInterval>;
  /** The hub stopped: warnings still go to the log, but nothing more is written or swept. */
  private stopped = false;

  constructor({ store, log, now = Date.now }: SecurityEventsDeps) {
    this.store = store;
    this.log = log;
    this.warnings = new KeyedThrottle({ windowMs: LOG_WINDOW_MS, maxKeys: MAX_TRACKED, now });
    this.audits = new KeyedThrottle({ windowMs: AUDIT_WINDOW_MS, maxKeys: MAX_TRACKED, now });
  }

  /** A viewer's ticket was refused; `claims` when the ticket is ours (its signature held). */
  ticketRefused(
    ip: string,
    reason: TicketRefusalReason,
    claims?: { tid: string; sid: string; uid: string },
  ): void {
    const refusal: Refusal = claims
      ? {
          event: "ticket_refused",
          ip,
          reason,
          tenantId: claims.tid,
          sessionId: claims.sid,
          userId: claims.uid,
        }
      : { event: "ticket_refused", ip, reason };
    this.report(refusal, AUDITED_TICKET_REASONS.has(reason));
  }

  /** An agent's credential was refused; `tenantId` when the agent exists. */
  agentRefused(ip: string, agentId: string, reason: CredentialRefusalReason, tenantId?: string): void {
    this.report({ event: "agent_credential_refused", ip, reason, agentId, tenantId }, true);
  }

  /** A new connection was refused: its address already holds the most that may wait for a hello. */
  tooManyUnauthenticated(ip: string): void {
    this.report({ event: "too_many_unauthenticated", ip, reason: "unauthenticated_limit" }, false);
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.sweeper);
    this.sweeper = undefined;
  }

  private report(refusal: Refusal, audit: boolean) {
    const client = clientKey(refusal.ip);
    const warned = this.warnings.take(`${refusal.event}|${client}`, refusal);
    if (warned) this.warn(refusal, warned.suppressed);
    if (this.stopped) return;
    if (audit && refusal.tenantId && refusal.event !== "too_many_unauthenticated") {
      const audited = refusal as AuditedRefusal;
      const passed = this.audits.take(`${refusal.event}|${refusal.tenantId}|${client}`, audited);
      if (passed) this.write(audited, passed.suppressed);
    }
    this.sweeper ??= setInterval(() => this.sweep(), SWEEP_MS);
  }

  /** `others`: refusals of the same kind from the same address that were not reported on their own. */
  private warn(refusal: Refusal, others: number) {
    const { event, ...fields } = refusal;
    this.log.warn(
      { event, ...withoutUndefined(fields), ...(others > 0 ? { suppressed: others } : {}) },
      MESSAGES[event],
    );
  }

  private write(refusal: AuditedRefusal, others: number) {
    const { event, tenantId, agentId, ip, reason, sessionId, userId } = refusal;
    const data = withoutUndefined({
      ip,
      reason,
      sessionId,
      userId,
      suppressed: others > 0 ? others : undefined,
    });
    this.store
      .recordRefusal({ tenantId, type: event, ...(agentId ? { agentId } : {}), data })
      .catch((error: unknown) =>
        this.log.warn({ err: error, event, tenantId }, "could not record a refusal in the audit trail"),
      );
  }

  /** Held-back refusals come out as one report per key (the newest, counting the others). */
  private sweep() {
    const warnings = this.warnings.sweep();
    for (const { last, suppressed } of warnings.held) this.warn(last, suppressed - 1);
    const audits = this.audits.sweep();
    for (const { last, suppressed } of audits.held) this.write(last, suppressed - 1);
    const overflow = warnings.overflow + audits.overflow;
    if (overflow > 0) {
      this.log.warn({ overflow }, "refusals from more addresses than are tracked were counted, not itemised");
    }
    // Nothing left to sweep: no timer until the next refusal.
    if (this.warnings.size === 0 && this.audits.size === 0) {
      clearInterval(this.sweeper);
      this.sweeper = undefined;
    }
  }
}

function withoutUndefined<T extends Record<string, unknown>>(fields: T): Partial<T> {
  return Object.fromEntries(Object.entries(fields).filter(([, v]) => v !== undefined)) as Partial<T>;
}
