/**
 * Node entry of the signaling worker: the Hono app on @hono/node-server 2.x with its own
 * `upgradeWebSocket` and a `ws` server. Run directly (`node apps/signal/src/node.ts`) or started
 * in-process by the dashboard's server when it owns the embedded database.
 */
import { serve, upgradeWebSocket } from "@hono/node-server";
import { SIGNAL_LIMITS } from "@rd/protocol";
import type { AddressInfo } from "node:net";
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { WebSocketServer } from "ws";
import { createSignalApp } from "./app.ts";
import { createWorker, type Worker, type WorkerOptions } from "./worker.ts";

export interface NodeSignal {
  worker: Worker;
  port: number;
  close(): Promise<void>;
}

export async function startNodeSignal(options: WorkerOptions & { port?: number }): Promise<NodeSignal> {
  const worker = await createWorker(options);
  const app = createSignalApp(worker.hub, upgradeWebSocket, "node");
  // ws refuses frames over maxPayload itself (1009); the hub's own, smaller limit answers 4009 first.
  const wss = new WebSocketServer({ noServer: true, maxPayload: SIGNAL_LIMITS.maxFrameBytes * 2 });
  const port = options.port ?? worker.env.SIGNAL_PORT;
  const server = await new Promise<ReturnType<typeof serve>>((resolve) => {
    const s = serve(
      { fetch: app.fetch, port, hostname: worker.env.SIGNAL_HOST, websocket: { server: wss } },
      () => resolve(s),
    );
  });
  const actualPort = (server.address() as AddressInfo).port;
  worker.log.info({ port: actualPort }, "listening");
  return {
    worker,
    port: actualPort,
    async close() {
      await worker.close();
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

if (import.meta.main) {
  // Given a single core (CPU affinity or a one-CPU container), V8's parallel GC helpers only take
  // turns with the main thread and stretch each pause; one-threaded collection pauses less.
  if (availableParallelism() === 1) setFlagsFromString("--single-threaded-gc");
  const signal = await startNodeSignal({ env: process.env });
  const stop = () => void signal.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
