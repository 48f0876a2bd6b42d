/**
 * Deno entry of the signaling worker: the same Hono app on `Deno.serve`, with Hono's Deno
 * `upgradeWebSocket`. Run: `deno run -A apps/signal/src/deno.ts` (needs DATABASE_URL: the embedded
 * PGlite belongs to the dashboard's process).
 */
import { getConnInfo, upgradeWebSocket } from "hono/deno";
import { createSignalApp } from "./app.ts";
import { createWorker } from "./worker.ts";

declare const Deno: {
  env: { toObject(): Record<string, string> };
  serve(
    options: { port: number; hostname: string; onListen?: () => void },
    handler: (req: Request) => Response | Promise<Response>,
  ): {
    shutdown(): Promise<void>;
  };
  addSignalListener(signal: "SIGINT" | "SIGTERM", handler: () => void): void;
  exit(code: number): never;
};

const worker = await createWorker({ env: Deno.env.toObject(), ownsProcess: true });
const app = createSignalApp(worker.hub, upgradeWebSocket, "deno", {
  clientAddress: (c) => getConnInfo(c).remote.address,
  metricsToken: worker.env.SIGNAL_METRICS_TOKEN,
});
const server = Deno.serve(
  {
    port: worker.env.SIGNAL_PORT,
    hostname: worker.env.SIGNAL_HOST,
    onListen: () => worker.log.info({ port: worker.env.SIGNAL_PORT }, "listening"),
  },
  app.fetch,
);
const stop = () =>
  void worker
    .close()
    .then(() => server.shutdown())
    .then(() => Deno.exit(0));
Deno.addSignalListener("SIGINT", stop);
Deno.addSignalListener("SIGTERM", stop);
