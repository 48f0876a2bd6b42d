/**
 * Signs each tenant's audit chain head (design flow 6): once `everyEvents` events are unsigned, or
 * when any event is unsigned and the tenant's last signed head (for a chain never signed: its first
 * event) is `everyMs` old. Events are appended by several processes (the dashboard, the signaling
 * workers), so the signer does not rely on hooks in its own process: it polls, with one query per
 * tick that compares each tenant's newest seq with its newest signed seq (index lookups only, see
 * `dueQuery`). `nudge()` after an append makes the next tick come at once.
 */
import { desc, eq, sql } from "drizzle-orm";
import { type AuditSigningKey, registerSigningKey, signHead } from "./audit-signing.ts";
import type { Database } from "./client.ts";
import { type AuditHead, AuditHeads, SessionEvents, Tenants } from "./schema.ts";

/** The signer's logging needs (pino and @rd/log both fit). */
export interface SignerLog {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

export interface AuditHeadSignerOptions {
  db: Database;
  key: AuditSigningKey;
  /** Sign once this many events are unsigned. */
  everyEvents?: number;
  /** Sign any unsigned event once the last signed head (or the first event) is this old. */
  everyMs?: number;
  /**
   * How often the database is asked whether a tenant is due. One second keeps a head at most about
   * `everyMs` + 1 s behind, for one small indexed query a second.
   */
  pollMs?: number;
  log: SignerLog;
  /** The clock (tests move it). */
  now?: () => Date;
}

/** After a failed tick the poll slows down, doubling up to this, so a database outage is not a log flood. */
const MAX_BACKOFF_MS = 30_000;

interface TenantState {
  tenantId: string;
  headSeq: number | null;
  signedSeq: number | null;
  lastSignedAt: Date | null;
  firstUnsignedAt: Date | null;
}

export class AuditHeadSigner {
  readonly #db: Database;
  readonly #key: AuditSigningKey;
  readonly #everyEvents: number;
  readonly #everyMs: number;
  readonly #pollMs: number;
  readonly #log: SignerLog;
  readonly #now: () => Date;
  #timer: ReturnType<typeof setTimeout> | null = null;
  #running: Promise<void> | null = null;
  #again = false;
  #stopped = true;
  #failures = 0;

  constructor(options: AuditHeadSignerOptions) {
    this.#db = options.db;
    this.#key = options.key;
    this.#everyEvents = options.everyEvents ?? 100;
    this.#everyMs = options.everyMs ?? 60_000;
    this.#pollMs = options.pollMs ?? 1000;
    this.#log = options.log;
    this.#now = options.now ?? (() => new Date());
    if (!(this.#everyEvents >= 1)) throw new RangeError("everyEvents must be at least 1");
    if (!(this.#everyMs >= 0)) throw new RangeError("everyMs must not be negative");
  }

  /** The key's fingerprint. */
  get keyId(): string {
    return this.#key.id;
  }

  /** Registers the key's public half, then polls (the first pass runs at once). */
  async start(): Promise<void> {
    if (!this.#stopped) return;
    await registerSigningKey(this.#db, this.#key);
    this.#stopped = false;
    this.#schedule(0);
  }

  /** Stops polling; resolves once a signing in flight has been written. */
  async stop(): Promise<void> {
    this.#stopped = true;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = null;
    await this.#running;
  }

  /** Events were just appended: look now rather than at the next poll. */
  nudge(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#schedule(0);
  }

  /** One pass: signs the head of every tenant that is due; resolves with the heads written. */
  async signDue(): Promise<AuditHead[]> {
    const now = this.#now();
    const signed: AuditHead[] = [];
    for (const tenant of await this.#dueQuery()) {
      if (tenant.headSeq === null) continue;
      const unsigned = tenant.headSeq - (tenant.signedSeq ?? 0);
      if (unsigned <= 0) continue;
      const since = tenant.lastSignedAt ?? tenant.firstUnsignedAt;
      const waited = since ? now.getTime() - since.getTime() : 0;
      if (unsigned >= this.#everyEvents || waited >= this.#everyMs) {
        const head = await this.signHeadOf(tenant.tenantId);
        if (head) signed.push(head);
      }
    }
    return signed;
  }

  /**
   * Signs `tenantId`'s current chain head now; null when its chain is empty or that head is signed
   * already (by this signer or another process with the same key).
   */
  async signHeadOf(tenantId: string): Promise<AuditHead | null> {
    const [head] = await this.#db
      .select({ seq: SessionEvents.seq, hash: SessionEvents.hash })
      .from(SessionEvents)
      .where(eq(SessionEvents.tenantId, tenantId))
      .orderBy(desc(SessionEvents.seq))
      .limit(1);
    if (!head) return null;
    const claim = { tenantId, seq: head.seq, hash: head.hash, signedAt: this.#now() };
    const signature = await signHead(this.#key, claim);
    const [row] = await this.#db
      .insert(AuditHeads)
      .values({ ...claim, keyId: this.#key.id, signature })
      .onConflictDoNothing({ target: [AuditHeads.tenantId, AuditHeads.seq] })
      .returning();
    return row ?? null;
  }

  /**
   * Every tenant with its newest seq, newest signed seq, when that was signed and when its first
   * unsigned event was written. Each subquery is one descent of a (tenant_id, seq) unique index, so
   * the cost grows with the number of tenants, not of events.
   */
  #dueQuery(): Promise<TenantState[]> {
    // Qualified by hand: Drizzle writes a one-table query's columns bare, and a bare "id" inside
    // the subqueries would be the subquery's own.
    const tenant = sql`"tenants"."id"`;
    const signedSeq = sql`(select max(h.seq) from audit_heads h where h.tenant_id = ${tenant})`;
    return this.#db
      .select({
        tenantId: Tenants.id,
        headSeq: sql<
          number | null
        >`(select max(e.seq) from session_events e where e.tenant_id = ${tenant})`.mapWith(Number),
        signedSeq: sql<number | null>`${signedSeq}`.mapWith(Number),
        lastSignedAt: sql<Date | null>`(select h.signed_at from audit_heads h
          where h.tenant_id = ${tenant} order by h.seq desc limit 1)`.mapWith(AuditHeads.signedAt),
        firstUnsignedAt: sql<Date | null>`(select e.created_at from session_events e
          where e.tenant_id = ${tenant} and e.seq = coalesce(${signedSeq}, 0) + 1)`.mapWith(
          SessionEvents.createdAt,
        ),
      })
      .from(Tenants);
  }

  #schedule(delayMs: number) {
    if (this.#stopped) return;
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.#tick(), delayMs);
    // The signer never keeps a process alive on its own.
    this.#timer.unref?.();
  }

  #tick() {
    this.#timer = null;
    this.#again = false;
    this.#running = this.signDue()
      .then((heads) => {
        this.#failures = 0;
        for (const head of heads) {
          this.#log.info({ tenantId: head.tenantId, seq: head.seq, keyId: head.keyId }, "signed audit head");
        }
      })
      .catch((error: unknown) => {
        this.#failures += 1;
        this.#log.error({ err: error, failures: this.#failures }, "audit head signing failed");
      })
      .finally(() => {
        this.#running = null;
        const backoff = Math.min(MAX_BACKOFF_MS, this.#pollMs * 2 ** this.#failures);
        this.#schedule(this.#again ? 0 : this.#failures > 0 ? backoff : this.#pollMs);
      });
  }
}
