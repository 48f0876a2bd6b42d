/**
 * Remembers ticket ids until their tickets expire, so each ticket opens one connection only.
 * In memory for one worker; in Redis (SET NX with expiry) when workers share the load.
 */
import type { Redis } from "ioredis";

export interface ReplayGuard {
  /** True the first time `id` is claimed before `expiresAtMs`; false for a replay. */
  claim(id: string, expiresAtMs: number): Promise<boolean>;
}

export class MemoryReplayGuard implements ReplayGuard {
  private readonly seen = new Map<string, number>();

  async claim(id: string, expiresAtMs: number): Promise<boolean> {
    const now = Date.now();
    if (this.seen.size > 10_000) for (const [key, exp] of this.seen) if (exp <= now) this.seen.delete(key);
    if ((this.seen.get(id) ?? 0) > now) return false;
    this.seen.set(id, expiresAtMs);
    return true;
  }
}

export class RedisReplayGuard implements ReplayGuard {
  private readonly redis: Redis;

  constructor(redis: Redis) {
    this.redis = redis;
  }

  async claim(id: string, expiresAtMs: number): Promise<boolean> {
    const ttl = Math.max(1, expiresAtMs - Date.now());
    return (await this.redis.set(`rd:ticket:${id}`, "1", "PX", ttl, "NX")) === "OK";
  }
}
