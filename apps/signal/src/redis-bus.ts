/**
 * The bus over Redis pub/sub: one connection publishes, one subscribes (Redis requires a dedicated
 * connection for subscriptions). Channels are reference-counted so two local subscribers of one
 * channel share one Redis subscription.
 */
import { Redis } from "ioredis";
import type { Bus, BusEnvelope, BusHandler } from "./bus.ts";
import type { Logger } from "@rd/log";

const PREFIX = "rd:signal:";

export class RedisBus implements Bus {
  private readonly pub: Redis;
  private readonly sub: Redis;
  private readonly handlers = new Map<string, Set<BusHandler>>();

  private readonly log: Logger;

  constructor(url: string, log: Logger) {
    this.log = log;
    const options = { maxRetriesPerRequest: 2, enableReadyCheck: true, lazyConnect: false };
    this.pub = new Redis(url, options);
    this.sub = new Redis(url, options);
    for (const client of [this.pub, this.sub]) {
      client.on("error", (error: Error) => log.warn({ err: error.message }, "redis connection problem"));
    }
    this.sub.on("message", (channel: string, text: string) => {
      const handlers = this.handlers.get(channel.slice(PREFIX.length));
      if (!handlers) return;
      let envelope: BusEnvelope;
      try {
        envelope = JSON.parse(text) as BusEnvelope;
      } catch {
        this.log.warn({ channel }, "dropped an unreadable bus message");
        return;
      }
      for (const handler of handlers) handler(envelope);
    });
  }

  async publish(channel: string, envelope: BusEnvelope): Promise<void> {
    await this.pub.publish(PREFIX + channel, JSON.stringify(envelope));
  }

  async subscribe(channel: string, handler: BusHandler): Promise<() => Promise<void>> {
    let set = this.handlers.get(channel);
    if (!set) {
      this.handlers.set(channel, (set = new Set()));
      await this.sub.subscribe(PREFIX + channel);
    }
    set.add(handler);
    return async () => {
      set.delete(handler);
      if (set.size === 0 && this.handlers.get(channel) === set) {
        this.handlers.delete(channel);
        await this.sub.unsubscribe(PREFIX + channel).catch(() => {});
      }
    };
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.pub.disconnect();
    this.sub.disconnect();
  }
}
