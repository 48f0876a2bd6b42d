/**
 * The product's production process: the dashboard (SvelteKit adapter-node build) on PORT. The
 * dashboard's own composition root (src/lib/server/app.ts) starts the signaling worker beside it
 * unless SIGNAL_EMBEDDED=false, and the demo agent under `npm start`.
 *
 * adapter-node assumes https when neither ORIGIN nor PROTOCOL_HEADER is configured, which breaks form
 * posts and cookies on plain http://localhost; so, unless the operator configured a proxy header or
 * ORIGIN, each request is told the scheme of the connection it actually arrived on.
 *
 * Before anything else it makes the data directory private to its owner (@rd/auth/private-files).
 * It serves a copy of the build of its own (build-snapshot.ts), so building again while it runs
 * (`npm test`, another `npm start`) cannot take files from under it, and a static file that cannot
 * be read fails its one request instead of the process (piped-reads.ts).
 */
import http from "node:http";
import path from "node:path";
import type { TLSSocket } from "node:tls";
import { pathToFileURL } from "node:url";
import { makeDataDirPrivate } from "@rd/auth/private-files";
import { snapshotBuild, snapshotsDir } from "./src/lib/server/build-snapshot.ts";
import { log } from "./src/lib/server/log.ts";
import { guardPipedReads } from "./src/lib/server/piped-reads.ts";

const SCHEME_HEADER = "x-rd-connection-scheme";
/** A stuck shutdown (a connection that will not close, a child that will not stop) ends here. */
const SHUTDOWN_DEADLINE_MS = 15_000;
const deriveScheme = !process.env.ORIGIN && !process.env.PROTOCOL_HEADER;
if (deriveScheme) process.env.PROTOCOL_HEADER = SCHEME_HEADER;

// Before the app opens its database: everything this process (and the demo agent it starts) writes
// is its owner's alone, and an older install's more open data directory is tightened. The same
// DATA_DIR default as the dashboard's env module (src/lib/server/env.ts), which needs SvelteKit.
const dataDir = path.resolve(process.env.DATA_DIR || ".data");
await makeDataDirPrivate(dataDir, log);

const root = path.resolve(import.meta.dirname, "../..");
const buildDir = await servedBuild(path.join(root, "build"));

/** The copy of the build this process serves; the build itself if no copy can be made. */
async function servedBuild(built: string): Promise<string> {
  try {
    const copy = await snapshotBuild(built, snapshotsDir(root));
    process.on("exit", () => copy.remove());
    return copy.dir;
  } catch (error) {
    // A read-only checkout, a full disk: serve as before, and say what that risks.
    log.warn(
      { err: error },
      "cannot copy the build aside; serving build/ itself, so rebuilding while this runs will break it",
    );
    return built;
  }
}
type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;
// Importing the handler runs the app's init hook (configuration, migrations, first admin, worker).
const { handler } = (await import(pathToFileURL(path.join(buildDir, "handler.js")).href)) as {
  handler: Handler;
};

const server = http.createServer((req, res) => {
  // Overwritten on every request, so a client cannot claim https on a plain connection.
  if (deriveScheme) req.headers[SCHEME_HEADER] = (req.socket as TLSSocket).encrypted ? "https" : "http";
  guardPipedReads(res, log, req.url);
  handler(req, res);
});

const port = Number(process.env.PORT ?? 3000);
// This machine only unless HOST says otherwise (the app's env module documents the same default).
const host = process.env.HOST || "127.0.0.1";
server.listen(port, host, () => console.log(`Listening on http://${host}:${port}`));

// As adapter-node's own server does: stop taking requests, then tell the app, which stops the
// worker, the demo agent and the database; the process ends when nothing is left to do.
let stopping = false;
function shutdown(reason: NodeJS.Signals) {
  if (stopping) return;
  stopping = true;
  setTimeout(() => process.exit(0), SHUTDOWN_DEADLINE_MS).unref();
  server.closeIdleConnections();
  server.close(() => process.emit("sveltekit:shutdown" as "exit", reason as unknown as number));
  server.closeAllConnections();
}
process.on("SIGINT", () => shutdown("SIGINT"));
process.on("SIGTERM", () => shutdown("SIGTERM"));
