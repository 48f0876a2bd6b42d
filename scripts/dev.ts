/** `npm run dev`: the dashboard with hot reload (Vite), on the embedded database unless DATABASE_URL is set. */
import path from "node:path";
import { makeDataDirPrivate } from "@rd/auth/private-files";
import { run, say } from "./lib.ts";

// As the production entry (apps/web/serve.ts) does: Vite, and the dashboard it runs, inherit the
// umask, so the embedded database and the ticket secret stay the owner's alone in development too.
const log = (fields: Record<string, unknown>, msg: string) => say(`${msg} ${JSON.stringify(fields)}`);
await makeDataDirPrivate(path.resolve(process.env.DATA_DIR || ".data"), { warn: log, error: log });

process.exit(await run("npx", ["vite", "dev", ...process.argv.slice(2)]));
