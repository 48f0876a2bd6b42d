/**
 * `npm test`: every suite. Unit and integration tests (vitest) run against the real Postgres and
 * Redis when they answer on their standard local ports (or TEST_DATABASE_URL / REDIS_URL), else on
 * PGlite and the in-process bus; then the browser tests (Playwright, Debian Chromium) run against
 * the built dashboard started the way `npm start` starts it. Ends with one summary line.
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { buildIsStale, root, run, say } from "./lib.ts";

function answers(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host, timeout: 1500 });
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
  });
}

if (!process.env.TEST_DATABASE_URL && (await answers(5432))) {
  process.env.TEST_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/test";
}
if (!process.env.REDIS_URL && (await answers(6379))) process.env.REDIS_URL = "redis://127.0.0.1:6379";
say(
  `database suites: PGlite${process.env.TEST_DATABASE_URL ? " + Postgres (TEST_DATABASE_URL)" : " only (no Postgres found)"}`,
);

const results = path.join(root, "test-results");
rmSync(results, { recursive: true, force: true });
const args = process.argv.slice(2);
const only = args.includes("--unit") ? "unit" : args.includes("--e2e") ? "e2e" : "all";

let failed = false;
if (only !== "e2e") {
  const code = await run("npx", [
    "vitest",
    "run",
    "--reporter=default",
    "--reporter=json",
    `--outputFile.json=${path.join(results, "vitest.json")}`,
  ]);
  failed ||= code !== 0;
}
if (only !== "unit") {
  if (buildIsStale()) {
    say("building the dashboard for the browser tests…");
    failed ||= (await run("npx", ["vite", "build", "--logLevel", "warn"])) !== 0;
  }
  const code = await run("npx", ["playwright", "test"], {
    env: { ...process.env, PLAYWRIGHT_JSON_OUTPUT_NAME: path.join(results, "playwright.json") },
  });
  failed ||= code !== 0;
}

// One closing line for people and CI: counts from both runners' JSON reports.
const read = (file: string) => (existsSync(file) ? JSON.parse(readFileSync(file, "utf8")) : undefined);
const vitest = read(path.join(results, "vitest.json"));
const playwright = read(path.join(results, "playwright.json"));
const passed =
  (vitest?.numPassedTests ?? 0) + (playwright?.stats?.expected ?? 0) + (playwright?.stats?.flaky ?? 0);
const failures = (vitest?.numFailedTests ?? 0) + (playwright?.stats?.unexpected ?? 0);
const skipped =
  (vitest?.numPendingTests ?? 0) + (vitest?.numTodoTests ?? 0) + (playwright?.stats?.skipped ?? 0);
if (failed && failures === 0) say("a test runner failed before reporting its tests; see its output above.");
process.stdout.write(
  `\ntotal: ${passed} passed, ${failures + (failed && failures === 0 ? 1 : 0)} failed, ${skipped} skipped\n`,
);
process.exit(failed ? 1 : 0);
