/**
 * Sliding-window limiter for failed attempts (sign-in per client address, enrollment codes). In
 * memory, which is right for the single dashboard process; the map is bounded so a flood of keys
 * cannot grow it. Use `tryConsume` before any await and `forgive` on success, so that parallel
 * attempts are counted as they start, not after they fail.
 */
export interface AttemptLimiterOptions {
  /** Failures allowed inside one window before the key is refused. */
  maxFailures: number;
  windowMs: number;
  /** Most keys tracked at once; the oldest are forgotten first. */
  maxKeys?: number;
  now?: () => number;
}

export class AttemptLimiter {
  private readonly failures = new Map<string, number[]>();
  private readonly options: Required<AttemptLimiterOptions>;

  constructor(options: AttemptLimiterOptions) {
    this.options = { maxKeys: 50_000, now: Date.now, ...options };
  }

  /** Milliseconds until `key` may try again, or 0 when it may try now. */
  retryAfterMs(key: string): number {
    const recent = this.recent(key);
    if (recent.length < this.options.maxFailures) return 0;
    return recent[recent.length - this.options.maxFailures]! + this.options.windowMs - this.options.now();
  }

  recordFailure(key: string): void {
    const recent = this.recent(key);
    recent.push(this.options.now());
    // Only the newest maxFailures timestamps decide anything.
    if (recent.length > this.options.maxFailures) recent.splice(0, recent.length - this.options.maxFailures);
    this.failures.delete(key); // re-insert to keep the map ordered by last use
    this.failures.set(key, recent);
    if (this.failures.size > this.options.maxKeys) {
      const oldest = this.failures.keys().next().value;
      if (oldest !== undefined) this.failures.delete(oldest);
    }
  }

  /** 0 and the attempt counted (as a failure until forgiven), or the wait in milliseconds. */
  tryConsume(key: string): number {
    const wait = this.retryAfterMs(key);
    if (wait === 0) this.recordFailure(key);
    return wait;
  }

  /** The newest counted attempt succeeded after all: it no longer counts. */
  forgive(key: string): void {
    const list = this.failures.get(key);
    list?.pop();
    if (list?.length === 0) this.failures.delete(key);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string): number[] {
    const cutoff = this.options.now() - this.options.windowMs;
    const list = (this.failures.get(key) ?? []).filter((t) => t > cutoff);
    if (list.length === 0) this.failures.delete(key);
    return list;
  }
}
