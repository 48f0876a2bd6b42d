import { sveltekit } from "@sveltejs/kit/vite";
import { defineConfig } from "vitest/config";

export default defineConfig({
  plugins: [sveltekit()],
  server: { port: 5173 },
  // The "slow plugin" timing report is noise in `npm start`'s output on a 2-core machine.
  build: { rolldownOptions: { checks: { bundlerTimings: false } } },
  test: {
    include: ["packages/**/src/**/*.test.ts", "apps/**/src/**/*.test.ts", "scripts/**/*.test.ts"],
    environment: "node",
    // Suites start real databases; PGlite needs a few seconds to boot and migrate.
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
