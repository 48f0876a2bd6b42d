import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { AuditSigningKeys, createDb, type DbHandle, SIGNING_KEY_FILE } from "@rd/db";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAuditSigningEnv, startAuditSigning } from "./audit-signing.ts";

describe("parseAuditSigningEnv", () => {
  it("signs every 100 events or 60 seconds with a generated key when nothing is set", () => {
    expect(parseAuditSigningEnv({})).toEqual({
      RD_AUDIT_SIGNING_KEY: undefined,
      RD_AUDIT_SIGN_EVERY_EVENTS: 100,
      RD_AUDIT_SIGN_EVERY_SECONDS: 60,
    });
    expect(
      parseAuditSigningEnv({ RD_AUDIT_SIGN_EVERY_EVENTS: " ", RD_AUDIT_SIGN_EVERY_SECONDS: "" }),
    ).toMatchObject({
      RD_AUDIT_SIGN_EVERY_EVENTS: 100,
      RD_AUDIT_SIGN_EVERY_SECONDS: 60,
    });
    expect(
      parseAuditSigningEnv({ RD_AUDIT_SIGN_EVERY_EVENTS: "10", RD_AUDIT_SIGN_EVERY_SECONDS: "2.5" }),
    ).toMatchObject({
      RD_AUDIT_SIGN_EVERY_EVENTS: 10,
      RD_AUDIT_SIGN_EVERY_SECONDS: 2.5,
    });
  });

  it("names every bad variable and says what it must be", () => {
    expect(() =>
      parseAuditSigningEnv({ RD_AUDIT_SIGN_EVERY_EVENTS: "lots", RD_AUDIT_SIGN_EVERY_SECONDS: "0" }),
    ).toThrow(
      "Invalid configuration — fix these environment variables:\n" +
        "  RD_AUDIT_SIGN_EVERY_EVENTS: must be a whole number of events, e.g. 100\n" +
        "  RD_AUDIT_SIGN_EVERY_SECONDS: must be at least 1 second",
    );
    expect(() => parseAuditSigningEnv({ RD_AUDIT_SIGN_EVERY_EVENTS: "1.5" })).toThrow(/whole number/);
    expect(() => parseAuditSigningEnv({ RD_AUDIT_SIGN_EVERY_SECONDS: "600" })).toThrow(
      "RD_AUDIT_SIGN_EVERY_SECONDS: must be at most 240: Verify chain reports events unsigned after 5 minutes",
    );
  });
});

describe("startAuditSigning", () => {
  let handle: DbHandle;
  let dataDir: string;
  beforeAll(async () => {
    handle = createDb({ dataDir: "memory://" });
    await handle.migrate();
    dataDir = await mkdtemp(path.join(tmpdir(), "rd-web-audit-"));
  });
  afterAll(async () => {
    await handle?.close();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it("generates the key into the data directory, registers it and returns its fingerprint", async () => {
    const signing = await startAuditSigning(handle, { dataDir, env: {} });
    await signing.stop();
    expect(signing.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect((await stat(path.join(dataDir, SIGNING_KEY_FILE))).mode & 0o777).toBe(0o600);
    const keys = await handle.db.select().from(AuditSigningKeys);
    expect(keys.map((k) => k.id)).toContain(signing.fingerprint);
    // The next start uses the same key.
    const again = await startAuditSigning(handle, { dataDir, env: {} });
    await again.stop();
    expect(again.fingerprint).toBe(signing.fingerprint);
  });

  it("refuses a configured key that is not Ed25519, as a configuration error", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    await expect(startAuditSigning(handle, { dataDir, env: { RD_AUDIT_SIGNING_KEY: rsa } })).rejects.toThrow(
      /^Invalid configuration — RD_AUDIT_SIGNING_KEY is a rsa key; audit heads are signed with Ed25519/,
    );
  });
});
