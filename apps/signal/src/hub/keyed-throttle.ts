/**
 * A throttle for reports (log lines, audit events) per key: the first report of a key in a window
 * passes, the rest are held back and counted, and the count comes out with the key's next report,
 * or with the sweep when the window is over, so a flood becomes one report per key and window that
 * says how many it stands for. Bounded: past `maxKeys` keys, reports of new keys are only counted
 * (as overflow), never remembered one by one.
 */

export interface Held<T> {
  key: string;
  /** Reports held back in the window that ended. */
  suppressed: number;
  /** The newest of them. */
  last: T;
}

interface Entry<T> {
  since: number;
  suppressed: number;
  last: T;
}

export interface KeyedThrottleOptions {
  windowMs: number;
  maxKeys: number;
  now?: () => number;
}

export class KeyedThrottle<T> {
  private readonly entries = new Map<string, Entry<T>>();
  private readonly windowMs: number;
  private readonly maxKeys: number;
  private readonly now: () => number;
  private overflow = 0;

  constructor({ windowMs, maxKeys, now = Date.now }: KeyedThrottleOptions) {
    this.windowMs = windowMs;
    this.maxKeys = maxKeys;
    this.now = now;
  }

  /** Keys with a window open. */
  get size(): number {
    return this.entries.size;
  }

  /**
   * `value` passes, with how many of its key were held back since the last that passed; or it is
   * held back (null).
   */
  take(key: string, value: T): { suppressed: number } | null {
    const now = this.now();
    const entry = this.entries.get(key);
    if (entry && now - entry.since < this.windowMs) {
      entry.suppressed += 1;
      entry.last = value;
      return null;
    }
    if (!entry && this.entries.size >= this.maxKeys) {
      this.overflow += 1;
      return null;
    }
    this.entries.set(key, { since: now, suppressed: 0, last: value });
    return { suppressed: entry?.suppressed ?? 0 };
  }

  /**
   * Ends the windows that are over. What a window held back comes out (it counts as the key's one
   * report, so its next window opens now); keys that held nothing back are forgotten. `overflow`
   * is how many reports of keys past the limit were only counted since the last sweep.
   */
  sweep(): { held: Held<T>[]; overflow: number } {
    const now = this.now();
    const held: Held<T>[] = [];
    for (const [key, entry] of this.entries) {
      if (now - entry.since < this.windowMs) continue;
      if (entry.suppressed === 0) {
        this.entries.delete(key);
        continue;
      }
      held.push({ key, suppressed: entry.suppressed, last: entry.last });
      this.entries.set(key, { since: now, suppressed: 0, last: entry.last });
    }
    const overflow = this.overflow;
    this.overflow = 0;
    return { held, overflow };
  }
}
