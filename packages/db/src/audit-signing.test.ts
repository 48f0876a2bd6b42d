import { createHash, createPublicKey, generateKeyPairSync } from "node:crypto";
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type HeadClaim,
  keyFingerprint,
  loadOrCreateSigningKey,
  signHead,
  SIGNING_KEY_FILE,
  verifyHeadSignature,
} from "./audit-signing.ts";

describe("audit signing key", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "rd-audit-key-"));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const claim: HeadClaim = {
    tenantId: "7f9a1c2e-0000-4000-8000-000000000001",
    seq: 42,
    hash: "ab".repeat(32),
    signedAt: new Date("2025-03-07T09:00:00.123Z"),
  };

  it("generates a key into the data directory on first start, private to its owner, and reuses it", async () => {
    const dataDir = path.join(dir, "fresh");
    const first = await loadOrCreateSigningKey({ dataDir });
    expect(first.source).toBe("generated");
    expect(first.id).toMatch(/^[0-9a-f]{64}$/);
    const file = path.join(dataDir, SIGNING_KEY_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(await readFile(file, "utf8")).toMatch(/^-----BEGIN PRIVATE KEY-----/);
    const again = await loadOrCreateSigningKey({ dataDir });
    expect(again).toMatchObject({ id: first.id, source: "file", publicKeyPem: first.publicKeyPem });
  });

  it("ends up with one key when two processes start at once", async () => {
    const dataDir = path.join(dir, "race");
    const keys = await Promise.all([1, 2, 3].map(() => loadOrCreateSigningKey({ dataDir })));
    expect(new Set(keys.map((k) => k.id)).size).toBe(1);
  });

  it("makes a key file that others can read private again", async () => {
    const dataDir = path.join(dir, "open");
    await loadOrCreateSigningKey({ dataDir });
    const file = path.join(dataDir, SIGNING_KEY_FILE);
    await chmod(file, 0o644);
    await loadOrCreateSigningKey({ dataDir });
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it("takes a configured PKCS#8 key, with \\n escapes as an env file holds them, and writes no file", async () => {
    const { privateKey, publicKey } = generateKeyPairSync("ed25519");
    const pem = privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    const dataDir = path.join(dir, "configured");
    const key = await loadOrCreateSigningKey({ dataDir, configured: pem.trim().replace(/\n/g, "\\n") });
    expect(key).toMatchObject({ source: "configured", id: keyFingerprint(publicKey) });
    await expect(stat(path.join(dataDir, SIGNING_KEY_FILE))).rejects.toMatchObject({ code: "ENOENT" });
  });

  it("refuses a configured key that is not an Ed25519 private key, saying what to give", async () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 })
      .privateKey.export({ format: "pem", type: "pkcs8" })
      .toString();
    await expect(loadOrCreateSigningKey({ dataDir: dir, configured: rsa })).rejects.toThrow(
      /RD_AUDIT_SIGNING_KEY is a rsa key; audit heads are signed with Ed25519/,
    );
    await expect(loadOrCreateSigningKey({ dataDir: dir, configured: "not a key" })).rejects.toThrow(
      /RD_AUDIT_SIGNING_KEY is not a PEM private key/,
    );
  });

  it("refuses a damaged key file instead of replacing it", async () => {
    const dataDir = path.join(dir, "damaged");
    await loadOrCreateSigningKey({ dataDir });
    await writeFile(path.join(dataDir, SIGNING_KEY_FILE), "garbage");
    await expect(loadOrCreateSigningKey({ dataDir })).rejects.toThrow(/is not a PEM private key/);
  });

  it("names a key by the SHA-256 of its raw 32-byte public key", async () => {
    const key = await loadOrCreateSigningKey({ dataDir: path.join(dir, "fresh") });
    const der = createPublicKey(key.publicKeyPem).export({ format: "der", type: "spki" });
    // An Ed25519 SPKI is a fixed 12-byte prefix and the 32-byte key.
    expect(key.id).toBe(createHash("sha256").update(der.subarray(-32)).digest("hex"));
  });

  it("signs a head and verifies it, and rejects any change to what was signed", async () => {
    const key = await loadOrCreateSigningKey({ dataDir: path.join(dir, "fresh") });
    const publicKey = createPublicKey(key.publicKeyPem);
    const signature = await signHead(key, claim);
    expect(Buffer.from(signature, "base64")).toHaveLength(64);
    expect(await verifyHeadSignature(publicKey, claim, signature)).toBe(true);
    for (const changed of [
      { ...claim, seq: 43 },
      { ...claim, hash: "cd".repeat(32) },
      { ...claim, tenantId: "7f9a1c2e-0000-4000-8000-000000000002" },
      { ...claim, signedAt: new Date(claim.signedAt.getTime() + 1) },
    ]) {
      expect(await verifyHeadSignature(publicKey, changed, signature)).toBe(false);
    }
    const other = generateKeyPairSync("ed25519").publicKey;
    expect(await verifyHeadSignature(other, claim, signature)).toBe(false);
    expect(await verifyHeadSignature(publicKey, claim, "not base64!")).toBe(false);
    expect(await verifyHeadSignature(publicKey, claim, Buffer.alloc(64).toString("base64"))).toBe(false);
  });
});
