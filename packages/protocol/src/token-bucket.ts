/**
 * A token bucket: `rate` tokens a second, holding at most `burst`. The budgets both sides of the
 * protocol enforce: the worker's per-connection messages and bytes, the agent's input events.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  private readonly rate: number;
  private readonly burst: number;
  private readonly now: () => number;

  constructor(rate: number, burst: number, now: () => number = Date.now) {
    this.rate = rate;
    this.burst = burst;
    this.now = now;
    this.tokens = burst;
    this.last = now();
  }

  /** Takes `cost` tokens if there are enough; false means the caller is over its budget. */
  take(cost = 1): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < cost) return false;
    this.tokens -= cost;
    return true;
  }
}
