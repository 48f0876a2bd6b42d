/**
 * Clipboard audit: an agent's report of what its clipboard policy decided on one transfer becomes
 * one audit event (`clipboard_allowed` / `clipboard_blocked`: size, hash, rule; the text never
 * leaves the agent). The hub has already checked that the agent is a peer of the session; the store
 * checks it again against the database. Reports are budgeted per agent connection, so a burst of
 * copies (or an agent gone wrong) cannot flood the tenant's hash chain.
 */
import type { Logger } from "@rd/log";
import { type SignalMessageOf, TokenBucket } from "@rd/protocol";
import type { SignalStore } from "../store.ts";
import { type Connection, isAgent } from "./connection.ts";
import type { Delivery } from "./delivery.ts";

/**
 * One session reports at most 5 pastes a second (the agent's control-channel budget, and only the
 * controller may paste) and 2 copies (the agent polls the clipboard every 500 ms). 10 a second with
 * a burst of 20 leaves room for a few busy sessions on one agent, and is all an agent can write.
 */
export const CLIPBOARD_REPORT_LIMITS = { perSecond: 10, burst: 20 } as const;

export interface ClipboardAuditDeps {
  store: Pick<SignalStore, "recordClipboard">;
  delivery: Pick<Delivery, "refuse">;
  log: Logger;
  limits?: { perSecond: number; burst: number };
  /** The budgets' clock. */
  now?: () => number;
}

interface Budget {
  bucket: TokenBucket;
  /** Reports dropped on this connection so far. */
  dropped: number;
  /** Dropping now: the one log line of this burst is written. */
  dropping: boolean;
}

export class ClipboardAudit {
  private readonly deps: ClipboardAuditDeps;
  private readonly limits: { perSecond: number; burst: number };
  // Keyed by the connection: a reconnect starts afresh, and a closed connection's budget goes with it.
  private readonly budgets = new WeakMap<Connection, Budget>();

  constructor(deps: ClipboardAuditDeps) {
    this.deps = deps;
    this.limits = deps.limits ?? CLIPBOARD_REPORT_LIMITS;
  }

  /** A `clipboard/event` from an agent that is a peer of its session. */
  async fromAgent(connection: Connection, report: SignalMessageOf<"clipboard/event">): Promise<void> {
    if (!isAgent(connection) || !this.withinBudget(connection)) return;
    const { type, ...fields } = report;
    const outcome = await this.deps.store.recordClipboard(connection.identity, fields);
    if (!outcome.ok) this.deps.delivery.refuse(connection, outcome.code, outcome.message, type);
  }

  /** Dropped reports are not refused: the agent could do nothing about it but send more. */
  private withinBudget(connection: Connection & { identity: { agentId: string } }): boolean {
    let budget = this.budgets.get(connection);
    if (!budget) {
      const { perSecond, burst } = this.limits;
      budget = { bucket: new TokenBucket(perSecond, burst, this.deps.now), dropped: 0, dropping: false };
      this.budgets.set(connection, budget);
    }
    if (budget.bucket.take()) {
      budget.dropping = false;
      return true;
    }
    budget.dropped += 1;
    if (!budget.dropping) {
      budget.dropping = true;
      this.deps.log.warn(
        { agentId: connection.identity.agentId, connection: connection.id, dropped: budget.dropped },
        "agent over its clipboard report budget; dropping reports until it slows down",
      );
    }
    return false;
  }
}
