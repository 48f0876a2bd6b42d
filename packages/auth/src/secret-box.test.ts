import { describe, expect, it } from "vitest";
import { createSecretBox, SecretBoxError } from "./secret-box.ts";

const secret = "s".repeat(32);
const userId = "33333333-3333-4333-8333-333333333333";
const otherUserId = "44444444-4444-4444-8444-444444444444";

/** Flips one bit of the byte at `index` of a base64url part. */
function flipBit(part: string, index: number): string {
  const bytes = Buffer.from(part, "base64url");
  bytes[index]! ^= 1;
  return bytes.toString("base64url");
}

describe("secret box", () => {
  it("round-trips bytes and text in the versioned format", async () => {
    const box = createSecretBox(secret, "totp");
    const key = crypto.getRandomValues(new Uint8Array(20));
    const sealed = await box.seal(key, userId);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(await box.open(sealed, userId)).toEqual(key);
    expect(await box.openText(await box.seal("pässwörd", userId), userId)).toBe("pässwörd");
  });

  it("uses a fresh IV each time, so the same value seals differently", async () => {
    const box = createSecretBox(secret, "totp");
    const a = await box.seal("same", userId);
    const b = await box.seal("same", userId);
    expect(a).not.toBe(b);
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
  });

  it("refuses a tampered ciphertext, IV or tag", async () => {
    const box = createSecretBox(secret, "totp");
    const sealed = await box.seal("top secret", userId);
    const [v, iv, ciphertext] = sealed.split(".") as [string, string, string];
    const tagStart = Buffer.from(ciphertext, "base64url").length - 1;
    for (const forged of [
      `${v}.${iv}.${flipBit(ciphertext, 0)}`,
      `${v}.${flipBit(iv, 0)}.${ciphertext}`,
      `${v}.${iv}.${flipBit(ciphertext, tagStart)}`,
    ]) {
      await expect(box.open(forged, userId)).rejects.toMatchObject({
        name: "SecretBoxError",
        reason: "tampered",
      });
    }
  });

  it("refuses a value moved to another record (wrong aad)", async () => {
    const box = createSecretBox(secret, "totp");
    const sealed = await box.seal("top secret", userId);
    await expect(box.open(sealed, otherUserId)).rejects.toThrow(/belongs to another record/);
  });

  it("cannot open a value sealed for another purpose or under another server secret", async () => {
    const sealed = await createSecretBox(secret, "totp").seal("top secret", userId);
    await expect(createSecretBox(secret, "webhook").open(sealed, userId)).rejects.toBeInstanceOf(
      SecretBoxError,
    );
    await expect(createSecretBox("o".repeat(32), "totp").open(sealed, userId)).rejects.toBeInstanceOf(
      SecretBoxError,
    );
  });

  it("refuses malformed values with a malformed error", async () => {
    const box = createSecretBox(secret, "totp");
    const sealed = await box.seal("x", userId);
    const [, iv, ciphertext] = sealed.split(".") as [string, string, string];
    const shortIv = Buffer.alloc(8).toString("base64url");
    const shortCiphertext = Buffer.alloc(15).toString("base64url");
    for (const junk of [
      "",
      "v1",
      "v1..",
      `v2.${iv}.${ciphertext}`,
      `v1.${iv}.${ciphertext}.x`,
      `v1.${iv}=.${ciphertext}`,
      `v1.!!!.${ciphertext}`,
      `v1.${shortIv}.${ciphertext}`,
      `v1.${iv}.${shortCiphertext}`,
    ]) {
      await expect(box.open(junk, userId)).rejects.toMatchObject({ reason: "malformed" });
    }
  });

  it("refuses a short server secret and an empty purpose", () => {
    expect(() => createSecretBox("short", "totp")).toThrow(/at least 32 characters/);
    expect(() => createSecretBox(secret, "")).toThrow(/purpose/);
  });
});
