/**
 * Test databases: every suite that touches the database runs once per backend. PGlite (in memory)
 * always; the real Postgres too when TEST_DATABASE_URL is set, each suite in a database of its own
 * that is created migrated and dropped afterwards.
 */
import { generateKeyPair, randomBytes } from "node:crypto";
import postgres from "postgres";
import { type AuditSigningKey, loadOrCreateSigningKey } from "./audit-signing.ts";
import { createDb, type DbHandle } from "./client.ts";
import { type ControlNotice, parseControlNotice } from "./control-feed.ts";

export interface TestDatabase {
  name: "pglite" | "postgres";
  /** A fresh, migrated database; `close()` drops it. `url` is set for a real server. */
  create(): Promise<DbHandle & { url?: string }>;
}

export function testDatabases(): TestDatabase[] {
  const backends: TestDatabase[] = [{ name: "pglite", create: createTestPglite }];
  const url = process.env.TEST_DATABASE_URL;
  if (url) backends.push({ name: "postgres", create: () => createTestPostgres(url) });
  return backends;
}

async function createTestPglite(): Promise<DbHandle> {
  const handle = createDb({ dataDir: "memory://" });
  await handle.migrate();
  return handle;
}

async function createTestPostgres(url: string): Promise<DbHandle & { url: string }> {
  const name = `rd_test_${randomBytes(6).toString("hex")}`;
  const admin = postgres(url, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database ${name}`);
  const testUrl = new URL(url);
  testUrl.pathname = `/${name}`;
  const handle = createDb({ url: testUrl.toString(), maxConnections: 20 });
  await handle.migrate();
  return {
    ...handle,
    url: testUrl.toString(),
    async close() {
      await handle.close();
      await admin.unsafe(`drop database if exists ${name} with (force)`);
      await admin.end({ timeout: 5 });
    },
  };
}

/** Listens to the database's control feed: every notice from now on lands in `notices`, parsed. */
export async function collectControlNotices(
  handle: DbHandle,
): Promise<{ notices: ControlNotice[]; stop(): Promise<void> }> {
  const notices: ControlNotice[] = [];
  const stop = await handle.listen((payload) => {
    const notice = parseControlNotice(payload);
    if (notice) notices.push(notice);
  });
  return { notices, stop };
}

/** A fresh Ed25519 audit signing key, as if configured (no file is written). */
export async function createTestSigningKey(): Promise<AuditSigningKey> {
  const pem = await new Promise<string>((resolve, reject) =>
    generateKeyPair(
      "ed25519",
      {
        publicKeyEncoding: { format: "pem", type: "spki" },
        privateKeyEncoding: { format: "pem", type: "pkcs8" },
      },
      (error, _publicKey, privateKey) => (error ? reject(error) : resolve(privateKey)),
    ),
  );
  return loadOrCreateSigningKey({ dataDir: "/nonexistent", configured: pem });
}
