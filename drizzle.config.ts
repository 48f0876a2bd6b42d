import { defineConfig } from "drizzle-kit";

// Migrations are generated (`npm run db:generate`), committed, and applied at start-up; never `push`.
export default defineConfig({
  dialect: "postgresql",
  schema: "./packages/db/src/schema.ts",
  out: "./drizzle",
});
