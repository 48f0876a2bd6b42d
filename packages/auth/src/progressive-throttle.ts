/**
 * Progressive throttling of failed attempts for one key, e.g. an (account, client) pair: a few
 * free tries, then a delay that doubles with each further failure, up to a ceiling. Unlike a hard
 * lock, a stranger's failures from their own address never lock the account's owner out.
 *
 * An attempt is counted when it *starts* (`tryConsume`), synchronously, before any awaited lookup
 * or password hash: parallel attempts cannot all pass the check before the first failure is
 * recorded. A success takes its count back (`forgive`).
 */
export interface ProgressiveThrottleOptions {
  /** Failures allowed without any delay (typos). */
  freeFailures: number;
  /** Delay after the first failure past the free ones; doubles with each further failure. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A key with no failure for this long starts afresh. */
  forgetAfterMs: number;
  /** Most keys tracked at once; the least recently used are forgotten first. */
  maxKeys?: number;
  now?: () => number;
}

interface Entry {
  failures: number;
  /** No attempt before this time. */
  until: number;
  last: number;
  /** Whether the current block was reported already (one event per block, not per refusal). */
  reported: boolean;
}

export type ThrottleVerdict =
  { allowed: true } | { allowed: false; retryAfterMs: number; firstRefusal: boolean };

export class ProgressiveThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly options: Required<ProgressiveThrottleOptions>;

  constructor(options: ProgressiveThrottleOptions) {
    this.options = { maxKeys: 50_000, now: Date.now, ...options };
  }

  /** Allowed (and counted as a failure until forgiven), or refused with the wait. */
  tryConsume(key: string): ThrottleVerdict {
    const now = this.options.now();
    const entry = this.current(key, now) ?? { failures: 0, until: 0, last: now, reported: false };
    if (entry.until > now) {
      const firstRefusal = !entry.reported;
      entry.reported = true;
      return { allowed: false, retryAfterMs: entry.until - now, firstRefusal };
    }
    entry.failures += 1;
    entry.last = now;
    entry.reported = false;
    entry.until = now + this.delayAfter(entry.failures);
    this.store(key, entry);
    return { allowed: true };
  }

  /** The attempt succeeded: the key starts afresh. */
  forgive(key: string): void {
    this.entries.delete(key);
  }

  /** The delay that follows `failures` failures. */
  delayAfter(failures: number): number {
    const { freeFailures, baseDelayMs, maxDelayMs } = this.options;
    if (failures <= freeFailures) return 0;
    return Math.min(maxDelayMs, baseDelayMs * 2 ** (failures - freeFailures - 1));
  }

  private current(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.last > this.options.forgetAfterMs && entry.until <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private store(key: string, entry: Entry) {
    this.entries.delete(key); // re-insert: the map stays ordered by last use
    this.entries.set(key, entry);
    if (this.entries.size > this.options.maxKeys) {
      const oldest = this.entries.keys().next().value;
      if (oldest !== undefined) this.entries.delete(oldest);
    }
  }
}
