/**
 * The signaling worker on Node: the Hono app on @hono/node-server 2.x with its own
 * `upgradeWebSocket` and a `ws` server. Started by the entry (`node apps/signal/src/node.ts`) or
 * by the dashboard's server, which hands it its own database when it owns the embedded one.
 */
import { serve, upgradeWebSocket } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { SIGNAL_LIMITS } from "@rd/protocol";
import type { AddressInfo } from "node:net";
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
  const app = createSignalApp(worker.hub, upgradeWebSocket, "node", {
    clientAddress: (c) => getConnInfo(c).remote.address,
    metricsToken: worker.env.SIGNAL_METRICS_TOKEN,
  });
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
