/**
 * A bad network in userspace, for bench:media's impaired runs (the kernel here has no netem): a UDP
 * proxy in front of one target (the TURN server) that loses, delays and rate-limits datagrams in
 * both directions, with settings that can change while packets flow.
 *
 * Each direction is one lane, shared by every client (one link, one bottleneck):
 *
 *   arrival → random loss → bottleneck (token bucket + drop-tail queue) → propagation delay ± jitter → out
 *
 * Each client address gets an upstream socket of its own, so the target sees as many clients (and
 * TURN allocations) as there are. Upstream sockets live until `close()`: bench sessions last minutes.
 */
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { z } from "zod";

export const impairmentSchema = z.strictObject({
  /** Share of datagrams dropped at random, per direction, 0-100. */
  lossPercent: z.number().min(0).max(100),
  /** One-way delay added in each direction, ms. */
  delayMs: z.number().min(0).max(10_000),
  /** Each datagram's delay varies uniformly by ± this much, ms (never reordering; see Lane). */
  jitterMs: z.number().min(0).max(10_000),
  /** The bottleneck's rate per direction, kbit/s; 0 means no cap. */
  rateKbps: z.number().min(0),
  /**
   * How much the bottleneck's queue holds, as ms of data at the cap; arrivals beyond it are
   * dropped. Real access links buffer tens of ms; an unbounded queue would turn a cap into an
   * ever-growing delay, which is not what a congested link does.
   */
  queueMs: z.number().min(1).max(10_000),
});

export type Impairment = z.infer<typeof impairmentSchema>;

export const NO_IMPAIRMENT: Impairment = {
  lossPercent: 0,
  delayMs: 0,
  jitterMs: 0,
  rateKbps: 0,
  queueMs: 80,
};

/** One direction's counters since the proxy started. */
export interface LaneCounters {
  /** Datagrams that arrived at the lane. */
  receivedPackets: number;
  /** Datagrams (and their payload bytes) sent on at the far side. */
  forwardedPackets: number;
  forwardedBytes: number;
  droppedByLoss: number;
  droppedByQueue: number;
}

export interface ProxyStats {
  /** Clients → target. */
  upstream: LaneCounters;
  /** Target → clients. */
  downstream: LaneCounters;
  /** Distinct client addresses seen. */
  clients: number;
}

export interface ImpairProxy {
  /** The port clients send to. */
  port: number;
  /** Changes some settings; takes effect for the next datagram (queued ones drain at the new rate). */
  set(change: Partial<Impairment>): void;
  settings(): Impairment;
  stats(): ProxyStats;
  close(): Promise<void>;
}

export interface ImpairProxyOptions {
  /** Where clients send to; port 0 picks a free one. */
  port: number;
  host?: string;
  target: { host: string; port: number };
  impairment?: Partial<Impairment>;
}

/**
 * Tokens the bucket holds at most, beyond one datagram: timers fire a millisecond or more late,
 * and a bucket of a single datagram would lose that time and undershoot the cap. A few ms of data
 * keeps the cap exact without letting real bursts through.
 */
const BURST_MS = 5;
const MIN_BURST_BYTES = 3000;
/** The queue always admits one datagram of this size, however low the cap. */
const MIN_QUEUE_BYTES = 1500;
/** Lets large bursts from the browser sit in the kernel rather than being dropped before the proxy. */
const SOCKET_BUFFER_BYTES = 1 << 20;

const now = () => performance.now();

/** A first-in, first-out queue with O(1) push and shift. */
class Fifo<T> {
  private items: T[] = [];
  private head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  peek(): T | undefined {
    return this.items[this.head];
  }

  push(item: T): void {
    this.items.push(item);
  }

  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head++];
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

interface Datagram {
  data: Buffer;
  deliver: (data: Buffer) => void;
}

/**
 * One direction of the link. Jitter never reorders: a datagram leaves the delay line no earlier
 * than the one before it (FIFO, like a single path), so a short delay draw behind a long one is
 * stretched to it. Real paths rarely reorder, and the receiver's jitter buffer counts reordering
 * as loss, which would blur the "delay" condition into a "loss" one. The cost: mean added delay
 * is slightly above `delayMs` when jitter is large against the packet spacing.
 */
class Lane {
  readonly counters: LaneCounters = {
    receivedPackets: 0,
    forwardedPackets: 0,
    forwardedBytes: 0,
    droppedByLoss: 0,
    droppedByQueue: 0,
  };
  private settings: Impairment;
  private readonly queue = new Fifo<Datagram>();
  private queuedBytes = 0;
  private tokens = 0;
  private tokensAt = now();
  private bucketTimer?: NodeJS.Timeout;
  private readonly line = new Fifo<Datagram & { at: number }>();
  private lastExit = 0;
  private lineTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(settings: Impairment) {
    this.settings = settings;
  }

  push(data: Buffer, deliver: (data: Buffer) => void): void {
    if (this.closed) return;
    this.counters.receivedPackets++;
    const { lossPercent, rateKbps } = this.settings;
    if (lossPercent > 0 && Math.random() * 100 < lossPercent) {
      this.counters.droppedByLoss++;
      return;
    }
    if (!rateKbps) return this.propagate({ data, deliver }, now());
    if (this.queuedBytes + data.length > this.queueLimit()) {
      this.counters.droppedByQueue++;
      return;
    }
    this.queue.push({ data, deliver });
    this.queuedBytes += data.length;
    this.drain();
  }

  /** New settings: what the bucket earned so far counts at the old rate, the rest at the new one. */
  retune(settings: Impairment): void {
    this.refill();
    this.settings = settings;
    clearTimeout(this.bucketTimer);
    this.bucketTimer = undefined;
    if (settings.rateKbps) {
      this.tokens = Math.min(this.tokens, this.depth());
      this.drain();
    } else {
      // No cap any more: the queue empties at once.
      for (let d = this.queue.shift(); d; d = this.queue.shift()) this.propagate(d, now());
      this.queuedBytes = 0;
    }
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.bucketTimer);
    clearTimeout(this.lineTimer);
    this.queue.clear();
    this.line.clear();
  }

  private bytesPerMs(): number {
    return this.settings.rateKbps / 8;
  }

  private queueLimit(): number {
    return Math.max(MIN_QUEUE_BYTES, this.bytesPerMs() * this.settings.queueMs);
  }

  private depth(): number {
    return Math.max(MIN_BURST_BYTES, this.bytesPerMs() * BURST_MS, this.queue.peek()?.data.length ?? 0);
  }

  private refill(): void {
    const t = now();
    if (this.settings.rateKbps) {
      this.tokens = Math.min(this.depth(), this.tokens + (t - this.tokensAt) * this.bytesPerMs());
    }
    this.tokensAt = t;
  }

  /** Sends what the tokens allow, then sleeps until the head of the queue can go. */
  private drain(): void {
    if (this.bucketTimer || this.closed) return;
    this.refill();
    for (let head = this.queue.peek(); head && this.tokens >= head.data.length; head = this.queue.peek()) {
      this.queue.shift();
      this.tokens -= head.data.length;
      this.queuedBytes -= head.data.length;
      this.propagate(head, this.tokensAt);
    }
    const head = this.queue.peek();
    if (!head) return;
    const waitMs = (head.data.length - this.tokens) / this.bytesPerMs();
    this.bucketTimer = setTimeout(
      () => {
        this.bucketTimer = undefined;
        this.drain();
      },
      Math.max(1, Math.ceil(waitMs)),
    );
  }

  /** The propagation delay: `departedAt` is when the datagram left the bottleneck. */
  private propagate(datagram: Datagram, departedAt: number): void {
    const { delayMs, jitterMs } = this.settings;
    if (!delayMs && !jitterMs && !this.line.size) return this.forward(datagram);
    const drawn = Math.max(0, delayMs + (Math.random() * 2 - 1) * jitterMs);
    const at = Math.max(departedAt + drawn, this.lastExit);
    this.lastExit = at;
    this.line.push({ ...datagram, at });
    if (this.line.size === 1) this.armLine();
  }

  private armLine(): void {
    const head = this.line.peek();
    if (!head || this.lineTimer) return;
    this.lineTimer = setTimeout(
      () => {
        this.lineTimer = undefined;
        // Within half a millisecond counts as due: timers round to whole milliseconds.
        const due = now() + 0.5;
        for (let d = this.line.peek(); d && d.at <= due; d = this.line.peek()) {
          this.line.shift();
          this.forward(d);
        }
        this.armLine();
      },
      Math.max(0, head.at - now()),
    );
  }

  private forward({ data, deliver }: Datagram): void {
    if (this.closed) return;
    this.counters.forwardedPackets++;
    this.counters.forwardedBytes += data.length;
    deliver(data);
  }
}

/** Starts the proxy; resolves once it listens. */
export async function startImpairProxy(options: ImpairProxyOptions): Promise<ImpairProxy> {
  const host = options.host ?? "127.0.0.1";
  const type = host.includes(":") ? "udp6" : "udp4";
  let settings = impairmentSchema.parse({ ...NO_IMPAIRMENT, ...options.impairment });
  const upstream = new Lane(settings);
  const downstream = new Lane(settings);
  const clients = new Map<string, Socket>();
  // Send failures (a target not listening yet, a client gone) are what UDP does; they show as
  // datagrams forwarded but never answered.
  const ignore = () => {};

  const listener = createSocket({
    type,
    recvBufferSize: SOCKET_BUFFER_BYTES,
    sendBufferSize: SOCKET_BUFFER_BYTES,
  });
  const toClient = (client: RemoteInfo) => (data: Buffer) =>
    listener.send(data, client.port, client.address, ignore);
  const upstreamFor = (client: RemoteInfo): Socket => {
    const key = `${client.address}|${client.port}`;
    let socket = clients.get(key);
    if (!socket) {
      socket = createSocket({
        type: options.target.host.includes(":") ? "udp6" : "udp4",
        recvBufferSize: SOCKET_BUFFER_BYTES,
      });
      const back = toClient(client);
      socket.on("message", (data) => downstream.push(data, back));
      socket.on("error", ignore);
      clients.set(key, socket);
    }
    return socket;
  };
  listener.on("message", (data, client) => {
    const socket = upstreamFor(client);
    upstream.push(data, (d) => socket.send(d, options.target.port, options.target.host, ignore));
  });
  listener.on("error", ignore);
  await new Promise<void>((resolve, reject) => {
    listener.once("error", reject);
    listener.bind(options.port, host, () => {
      listener.off("error", reject);
      resolve();
    });
  });

  return {
    port: listener.address().port,
    set(change) {
      settings = impairmentSchema.parse({ ...settings, ...change });
      upstream.retune(settings);
      downstream.retune(settings);
    },
    settings: () => ({ ...settings }),
    stats: () => ({
      upstream: { ...upstream.counters },
      downstream: { ...downstream.counters },
      clients: clients.size,
    }),
    async close() {
      upstream.close();
      downstream.close();
      const sockets = [listener, ...clients.values()];
      clients.clear();
      await Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
    },
  };
}
