/** `npm run dev`: the dashboard with hot reload (Vite), on the embedded database unless DATABASE_URL is set. */
import { run } from "./lib.ts";

process.exit(await run("npx", ["vite", "dev", ...process.argv.slice(2)]));
