import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { defineConfig } from "@playwright/test";
import { chromiumLaunchOptions } from "./e2e/chromium.ts";

// The browser tests drive Debian's Chromium (never a downloaded browser) against the built
// dashboard, started by the same script as `npm start`, on a fresh embedded database.
const port = Number(process.env.E2E_PORT ?? 3100);
const baseURL = `http://127.0.0.1:${port}`;
const dataDir = process.env.E2E_DATA_DIR ?? mkdtempSync(path.join(tmpdir(), "rd-e2e-"));
process.env.E2E_DATA_DIR = dataDir; // workers re-load this file; keep one directory per run

export default defineConfig({
  testDir: "e2e",
  // Its own folder: Playwright empties outputDir at start, and test-results/ also holds vitest's report.
  outputDir: "test-results/e2e",
  timeout: 60_000,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [["list"], ["json"]],
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: chromiumLaunchOptions,
  },
  webServer: {
    command: "node scripts/start.ts",
    url: `${baseURL}/healthz`,
    env: {
      PORT: String(port),
      SIGNAL_PORT: String(port + 1),
      DATA_DIR: dataDir,
      LOG_LEVEL: "warn",
      // The tests enroll agents of their own, with the consent policy each test needs.
      RD_DEMO_AGENT: "false",
      // A peer that went away is given up after 5 s (20 s by default), so "did not come back" is quick.
      SIGNAL_RESUME_GRACE_MS: "5000",
    },
    timeout: 180_000,
    reuseExistingServer: false,
    stdout: "pipe",
  },
});
