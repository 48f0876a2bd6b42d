import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { afterEach, describe, expect, it } from "vitest";
import { type ImpairProxy, type Impairment, startImpairProxy } from "./impair-proxy.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Arrival {
  data: Buffer;
  from: RemoteInfo;
  at: number;
}

const open: Socket[] = [];
let proxy: ImpairProxy | undefined;

afterEach(async () => {
  await proxy?.close();
  proxy = undefined;
  for (const socket of open.splice(0)) socket.close();
});

/** A UDP socket on loopback that records what arrives, and echoes it back if asked. */
async function endpoint(echo = false) {
  const socket = createSocket("udp4");
  open.push(socket);
  const arrivals: Arrival[] = [];
  socket.on("message", (data, from) => {
    arrivals.push({ data, from, at: performance.now() });
    if (echo) socket.send(data, from.port, from.address);
  });
  await new Promise<void>((resolve) => socket.bind(0, "127.0.0.1", resolve));
  return { socket, arrivals, port: socket.address().port };
}

/** A target that echoes, a proxy in front of it, and a client of the proxy. */
async function setup(impairment: Partial<Impairment> = {}) {
  const target = await endpoint(true);
  proxy = await startImpairProxy({ port: 0, target: { host: "127.0.0.1", port: target.port }, impairment });
  const client = await endpoint();
  const send = (data: Buffer) => client.socket.send(data, proxy!.port, "127.0.0.1");
  return { target, client, send, proxy };
}

const numbered = (n: number, size = 100) => {
  const data = Buffer.alloc(size);
  data.writeUInt32BE(n);
  return data;
};

/** Sends `size`-byte datagrams at `kbps` for `ms`, paced every 5 ms; returns how many it sent. */
async function blast(send: (data: Buffer) => void, kbps: number, ms: number, size = 1000): Promise<number> {
  const startedAt = performance.now();
  let sent = 0;
  for (let elapsed = 0; elapsed < ms; elapsed = performance.now() - startedAt) {
    const due = Math.floor((elapsed * kbps) / 8 / size);
    for (; sent < due; sent++) send(numbered(sent, size));
    await sleep(5);
  }
  return sent;
}

/** kbit/s of the arrivals between two instants. */
const kbpsBetween = (arrivals: Arrival[], from: number, to: number) =>
  (arrivals.filter((a) => a.at >= from && a.at < to).reduce((sum, a) => sum + a.data.length, 0) * 8) /
  (to - from);

/** Waits until nothing more has arrived for a while. */
async function quiet(arrivals: Arrival[], ms = 300) {
  let count = -1;
  while (count !== arrivals.length) {
    count = arrivals.length;
    await sleep(ms);
  }
}

describe("impair proxy", () => {
  it("forwards both ways, through an upstream socket per client", async () => {
    const { target, client, send } = await setup();
    const other = await endpoint();
    send(Buffer.from("one"));
    other.socket.send(Buffer.from("two"), proxy!.port, "127.0.0.1");
    await quiet(target.arrivals, 100);

    expect(target.arrivals.map((a) => a.data.toString()).sort()).toEqual(["one", "two"]);
    expect(new Set(target.arrivals.map((a) => a.from.port)).size).toBe(2);
    expect(client.arrivals.map((a) => a.data.toString())).toEqual(["one"]);
    expect(other.arrivals.map((a) => a.data.toString())).toEqual(["two"]);
    expect(proxy!.stats()).toMatchObject({
      clients: 2,
      upstream: { forwardedPackets: 2, forwardedBytes: 6 },
      downstream: { forwardedPackets: 2 },
    });
  });

  it("drops about the configured share of datagrams in each direction", async () => {
    const { target, client, send } = await setup({ lossPercent: 20 });
    for (let i = 0; i < 2000; i++) {
      send(numbered(i));
      if (i % 50 === 49) await sleep(2);
    }
    await quiet(client.arrivals);

    // 2000 × 0.8 = 1600 reach the target (σ ≈ 18); 2000 × 0.8 × 0.8 = 1280 come back (σ ≈ 21).
    expect(target.arrivals.length).toBeGreaterThan(1450);
    expect(target.arrivals.length).toBeLessThan(1750);
    expect(client.arrivals.length).toBeGreaterThan(1130);
    expect(client.arrivals.length).toBeLessThan(1430);
    const { upstream, downstream } = proxy!.stats();
    expect(upstream.droppedByLoss + upstream.forwardedPackets).toBe(2000);
    expect(downstream.droppedByLoss + downstream.forwardedPackets).toBe(target.arrivals.length);
  });

  it("delays each direction by the configured time", async () => {
    const { client, send } = await setup({ delayMs: 50 });
    const sentAt: number[] = [];
    for (let i = 0; i < 10; i++) {
      sentAt.push(performance.now());
      send(numbered(i));
      await sleep(20);
    }
    await quiet(client.arrivals);

    expect(client.arrivals).toHaveLength(10);
    const rtts = client.arrivals.map((a) => a.at - sentAt[a.data.readUInt32BE()]!);
    // 50 ms each way; timers never fire early, and a loaded machine may add some.
    for (const rtt of rtts) expect(rtt).toBeGreaterThanOrEqual(99);
    expect(Math.min(...rtts)).toBeLessThan(250);
  });

  it("spreads delays under jitter without reordering", async () => {
    const { target, send } = await setup({ delayMs: 30, jitterMs: 25 });
    // Bursts of 10 (draws spread over 50 ms would reorder within one) 20 ms apart. Closer bursts
    // made the FIFO hold nearly every datagram behind an earlier long draw, so the delays bunched
    // near the longest and their spread was ≤ 10 ms in one CI run of many. 20 ms apart, each
    // burst's first datagram waits behind at most ~35 ms of the burst before: the spread is ≤ 10
    // ms only if all ten of them draw over 45 ms (0.2^10).
    const sentAt: number[] = [];
    for (let i = 0; i < 100; i++) {
      sentAt.push(performance.now());
      send(numbered(i));
      if (i % 10 === 9) await sleep(20);
    }
    await quiet(target.arrivals);

    const order = target.arrivals.map((a) => a.data.readUInt32BE());
    expect(order).toEqual([...Array(100).keys()]);
    const delays = target.arrivals.map((a) => a.at - sentAt[a.data.readUInt32BE()]!);
    expect(Math.min(...delays)).toBeGreaterThanOrEqual(4);
    expect(Math.max(...delays) - Math.min(...delays)).toBeGreaterThan(10);
  });

  it("holds throughput near the cap and drops what its queue cannot hold", async () => {
    const { target, send } = await setup({ rateKbps: 800, queueMs: 100 });
    const startedAt = performance.now();
    await blast(send, 3200, 2500);
    const endedAt = performance.now();

    // After the first half second the queue is full: arrivals run at the cap.
    const kbps = kbpsBetween(target.arrivals, startedAt + 500, endedAt);
    expect(kbps).toBeGreaterThan(800 * 0.8);
    expect(kbps).toBeLessThan(800 * 1.15);
    const { upstream } = proxy!.stats();
    expect(upstream.droppedByQueue).toBeGreaterThan(upstream.receivedPackets / 2);
    // The queue is bounded: 100 ms at 800 kbit/s is 10 kB, so the last datagram waits ~100 ms, not seconds.
    await quiet(target.arrivals, 100);
    expect(target.arrivals.at(-1)!.at - endedAt).toBeLessThan(400);
  });

  it("applies set() to datagrams already flowing", async () => {
    const { target, send } = await setup({ rateKbps: 0 });
    const startedAt = performance.now();
    await blast(send, 1600, 1000);
    const droppedAt = performance.now();
    proxy!.set({ rateKbps: 400 });
    await blast(send, 1600, 2000);
    const endedAt = performance.now();

    expect(kbpsBetween(target.arrivals, startedAt + 200, droppedAt)).toBeGreaterThan(1200);
    const after = kbpsBetween(target.arrivals, droppedAt + 500, endedAt);
    expect(after).toBeGreaterThan(400 * 0.7);
    expect(after).toBeLessThan(400 * 1.2);

    proxy!.set({ rateKbps: 0, lossPercent: 100 });
    await quiet(target.arrivals, 200);
    const before = target.arrivals.length;
    for (let i = 0; i < 20; i++) send(numbered(i));
    await sleep(200);
    expect(target.arrivals.length).toBe(before);
    proxy!.set({ lossPercent: 0 });
    for (let i = 0; i < 20; i++) send(numbered(i));
    await quiet(target.arrivals, 200);
    expect(target.arrivals.length).toBe(before + 20);
    expect(proxy!.settings()).toMatchObject({ rateKbps: 0, lossPercent: 0 });
  });

  it("refuses settings out of range", async () => {
    await setup();
    expect(() => proxy!.set({ lossPercent: 150 })).toThrow();
    expect(() => proxy!.set({ delayMs: -1 })).toThrow();
    expect(proxy!.settings().lossPercent).toBe(0);
  });
});
