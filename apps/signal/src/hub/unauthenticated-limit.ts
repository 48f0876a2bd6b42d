/**
 * How many connections each client address holds that have not completed their hello yet, and the
 * cap on it: past `max`, the address's next connection is refused. Such a socket costs the worker
 * memory and a timer for up to the hello timeout while proving nothing, so without a cap one
 * address could hold any number of them. Addresses are keyed by `clientKey` (IPv6 by its /64, which
 * one subscriber is routinely given whole). A slot is held until its release function is called:
 * when the connection is welcomed or closes, whichever comes first (the hello timeout closes it).
 */
import { clientKey } from "@rd/auth/client-key";

export class UnauthenticatedLimit {
  private readonly counts = new Map<string, number>();
  private readonly max: number;
  private total = 0;

  constructor(max: number) {
    this.max = max;
  }

  /** Connections waiting for their hello, all addresses together. */
  get size(): number {
    return this.total;
  }

  /**
   * Takes a slot for a new connection from `address`: the function that gives it back (only the
   * first call counts), or null when the address already holds `max`.
   */
  admit(address: string): (() => void) | null {
    const key = clientKey(address);
    const held = this.counts.get(key) ?? 0;
    if (held >= this.max) return null;
    this.counts.set(key, held + 1);
    this.total += 1;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.total -= 1;
      const left = (this.counts.get(key) ?? 1) - 1;
      if (left > 0) this.counts.set(key, left);
      else this.counts.delete(key);
    };
  }
}
