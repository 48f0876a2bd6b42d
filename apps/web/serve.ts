/**
 * The product's production process: the dashboard (SvelteKit adapter-node build) on PORT and, unless
 * SIGNAL_EMBEDDED=false, the signaling worker on SIGNAL_PORT, sharing the dashboard's database (the
 * embedded PGlite can have one owner only) and its in-process bus.
 *
 * adapter-node assumes https when neither ORIGIN nor PROTOCOL_HEADER is configured, which breaks form
 * posts and cookies on plain http://localhost; so, unless the operator configured a proxy header or
 * ORIGIN, each request is told the scheme of the connection it actually arrived on.
 */
import http from "node:http";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { pathToFileURL } from "node:url";
import type { DbHandle } from "@rd/db";
import { hostServices } from "@rd/protocol";
import { startNodeSignal } from "@rd/signal/node";
import { startDemoAgent } from "./demo-agent.ts";

const SCHEME_HEADER = "x-rd-connection-scheme";
const deriveScheme = !process.env.ORIGIN && !process.env.PROTOCOL_HEADER;
if (deriveScheme) process.env.PROTOCOL_HEADER = SCHEME_HEADER;

const buildDir = path.resolve(import.meta.dirname, "../../build");
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
// Importing the handler runs the app's init hook (configuration, migrations, first admin).
const { handler } = (await import(pathToFileURL(path.join(buildDir, "handler.js")).href)) as {
  handler: Handler;
};

const server = http.createServer((req, res) => {
  // Overwritten on every request, so a client cannot claim https on a plain connection.
  if (deriveScheme) req.headers[SCHEME_HEADER] = (req.socket as TLSSocket).encrypted ? "https" : "http";
  handler(req, res);
});

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "0.0.0.0";
server.listen(port, host, () => console.log(`Listening on http://${host}:${port}`));

const signal =
  process.env.SIGNAL_EMBEDDED === "false"
    ? undefined
    : await startNodeSignal({ env: process.env, database: hostServices.database as DbHandle });
if (signal) hostServices.sessionEnded = (event) => void signal.worker.hub.announceEnded(event);

// `npm start` asks for the demo agent; a production deployment does not get one by accident.
const demo =
  process.env.RD_DEMO_AGENT === "true"
    ? startDemoAgent({
        db: (hostServices.database as DbHandle).db,
        serverUrl: `http://127.0.0.1:${port}`,
        dataDir: process.env.DATA_DIR ?? ".data",
        say: (message) => console.log(`[remote-desk] ${message}`),
      })
    : undefined;

let stopping = false;
const shutdown = async () => {
  if (stopping) return;
  stopping = true;
  await demo?.stop();
  await signal?.close();
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGINT", () => void shutdown());
process.on("SIGTERM", () => void shutdown());
