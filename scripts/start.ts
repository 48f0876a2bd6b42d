/**
 * `npm start`: builds the dashboard when its sources changed, then serves it (migrations run at
 * start-up) on PORT, with a TURN relay beside it when RD_TURN=coturn, and prints where to go. Runs
 * in the foreground until Ctrl+C.
 */
import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { TURN_CREDENTIAL_TTL_SECONDS } from "@rd/protocol";
import { type Coturn, startCoturn } from "./lib/coturn.ts";
import { turnSettings } from "./lib/turn-settings.ts";
import { buildIsStale, root, run, say, waitForHttp } from "./lib.ts";

const port = process.env.PORT ?? "3000";
if (!/^\d{1,5}$/.test(port) || Number(port) > 65535) {
  say(`PORT must be a TCP port number (1-65535), not "${port}".`);
  process.exit(2);
}

let turn: ReturnType<typeof turnSettings>;
try {
  turn = turnSettings(process.env);
} catch (error) {
  say((error as Error).message);
  process.exit(2);
}

if (buildIsStale()) {
  say("building the dashboard (first start or sources changed)…");
  if ((await run("npx", ["vite", "build", "--logLevel", "warn"])) !== 0) {
    say("the build failed; see the errors above.");
    process.exit(1);
  }
}

let coturn: Coturn | undefined;
let turnEnv: { RD_TURN_SECRET: string; RD_TURN_URLS: string } | undefined;
if (turn) {
  try {
    coturn = await startCoturn(turn.coturn);
  } catch (error) {
    say(`the TURN relay did not start: ${(error as Error).message}`);
    process.exit(1);
  }
  // The worker signs each session's credentials with the secret coturn checks them against.
  turnEnv = { RD_TURN_SECRET: turn.coturn.secret, RD_TURN_URLS: (turn.urls ?? [coturn.url]).join(",") };
}

const env = {
  // This machine only, unless told: a fresh dashboard is not offered to the whole network.
  HOST: "127.0.0.1",
  ...process.env,
  PORT: port,
  BODY_SIZE_LIMIT: process.env.BODY_SIZE_LIMIT ?? "1M",
  // The embedded default includes a demo agent on a virtual display; RD_DEMO_AGENT=false leaves it out.
  RD_DEMO_AGENT: process.env.RD_DEMO_AGENT ?? "true",
  // One warm interview desk per workspace, so a candidate's first desk starts in about a second.
  RD_DESK_POOL: process.env.RD_DESK_POOL ?? "interview:1",
  ...turnEnv,
};
const server = spawn(process.execPath, [path.join(root, "apps/web/serve.ts")], {
  cwd: root,
  env,
  stdio: "inherit",
});
const stop = (signal: NodeJS.Signals) => server.kill(signal);
process.on("SIGINT", () => stop("SIGINT"));
process.on("SIGTERM", () => stop("SIGTERM"));
server.on("exit", (code) => {
  void (coturn?.stop() ?? Promise.resolve()).finally(() => process.exit(code ?? 0));
});

const url = `http://localhost:${port}`;
if (await waitForHttp(`${url}/healthz`, server)) {
  say(`dashboard ready: ${url}`);
  if (process.env.SIGNAL_EMBEDDED !== "false") {
    say(`signaling worker: ws://localhost:${process.env.SIGNAL_PORT ?? 8787}/ws (in this process)`);
  }
  say(
    process.env.DATABASE_URL
      ? "database: Postgres from DATABASE_URL"
      : `database: embedded PGlite in ${path.resolve(root, process.env.DATA_DIR ?? ".data")}`,
  );
  if (turn)
    say(
      `TURN relay: ${turnEnv?.RD_TURN_URLS} (coturn; credentials live ${process.env.RD_TURN_TTL_SECONDS || TURN_CREDENTIAL_TTL_SECONDS} s${turn.generatedSecret ? ", secret made up for this run" : ""})`,
    );
  if (env.HOST === "127.0.0.1")
    say("listening on this machine only; HOST=0.0.0.0 npm start lets other machines reach it.");
  // The server wrote (and logged) the first-run token; say it plainly where a newcomer looks.
  const token = await readFile(
    path.resolve(root, process.env.DATA_DIR ?? ".data", "setup-token"),
    "utf8",
  ).catch(() => null);
  if (token)
    say(`first visit? create the admin account on the setup page with the setup token ${token.trim()}`);
  say("Stop with Ctrl+C.");
  if (env.RD_DEMO_AGENT === "true")
    say(
      'then open Agents: "Demo desktop" (a virtual display on this machine) comes online a few seconds after setup; Connect to it.',
    );
} else if (server.exitCode === null) {
  say(`the dashboard did not answer on ${url}/healthz within a minute; see the log above.`);
}
