/**
 * The one database client factory: embedded PGlite in a data directory when no URL is given,
 * postgres.js against a real server when it is. Both return the same Drizzle `Database` type.
 */
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import { drizzle as drizzlePostgres } from "drizzle-orm/postgres-js";
import { migrate as migratePostgres } from "drizzle-orm/postgres-js/migrator";
import postgres from "postgres";
import { CONTROL_CHANNEL } from "./control-feed.ts";
import { PrivateNodeFS } from "./private-nodefs.ts";
import * as schema from "./schema.ts";

export type Schema = typeof schema;
export type Database = PgDatabase<PgQueryResultHKT, Schema>;
/** A transaction handle; functions that only write take `Executor` so they compose inside one. */
export type Executor = Database | Parameters<Parameters<Database["transaction"]>[0]>[0];

export interface DbHandle {
  db: Database;
  kind: "pglite" | "postgres";
  /** Applies the committed SQL migrations in `drizzle/`; safe to call on every start. */
  migrate(migrationsFolder?: string): Promise<void>;
  /**
   * Calls `onPayload` with every control-feed notice (control-feed.ts) committed by any process on
   * this database; resolves once listening, with the function that stops it.
   */
  listen(onPayload: (payload: string) => void): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

export interface DbOptions {
  /** postgres:// URL; when absent the embedded PGlite is used. */
  url?: string | undefined;
  /** PGlite data directory; `memory://` (or undefined with no url) keeps it in memory. */
  dataDir?: string | undefined;
  /** postgres.js pool size. */
  maxConnections?: number;
}

/** Where `drizzle-kit generate` writes; valid when this file runs from source (not bundled). */
export const defaultMigrationsFolder = fileURLToPath(new URL("../../../drizzle", import.meta.url));

export function createDb(options: DbOptions = {}): DbHandle {
  if (options.url) return createPostgres(options.url, options.maxConnections ?? 10);
  return createPglite(options.dataDir);
}

function createPostgres(url: string, max: number): DbHandle {
  const client = postgres(url, { max, onnotice: () => {} });
  const db = drizzlePostgres(client, { schema }) as unknown as Database;
  return {
    db,
    kind: "postgres",
    async migrate(migrationsFolder = defaultMigrationsFolder) {
      await migratePostgres(drizzlePostgres(client, { schema }), { migrationsFolder });
    },
    // postgres.js holds LISTEN on a connection of its own and re-listens after a reconnect.
    async listen(onPayload) {
      const { unlisten } = await client.listen(CONTROL_CHANNEL, onPayload);
      return unlisten;
    },
    close: () => client.end({ timeout: 5 }),
  };
}

function createPglite(dataDir: string | undefined): DbHandle {
  const onDisk = dataDir !== undefined && !dataDir.startsWith("memory://");
  // The database is its owner's alone: the directory 0700, every file in it 0600 (private-nodefs.ts).
  if (onDisk) mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const client = onDisk ? new PGlite({ fs: new PrivateNodeFS(dataDir) }) : new PGlite(dataDir);
  const db = drizzlePglite(client, { schema }) as unknown as Database;
  return {
    db,
    kind: "pglite",
    async migrate(migrationsFolder = defaultMigrationsFolder) {
      await migratePglite(drizzlePglite(client, { schema }), { migrationsFolder });
    },
    async listen(onPayload) {
      return client.listen(CONTROL_CHANNEL, onPayload);
    },
    close: () => client.close(),
  };
}
