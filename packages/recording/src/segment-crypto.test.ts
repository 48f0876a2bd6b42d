import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  createKeyring,
  openSegment,
  RecordingKeyUnwrapFailed,
  sealSegment,
  SegmentTampered,
} from "./segment-crypto.ts";

const SECRET = "a-server-secret-of-at-least-32-characters";
const segment = new Uint8Array(randomBytes(512 * 1024));

describe("recording keyring", () => {
  it("unwraps a new recording key to the same key", () => {
    const keyring = createKeyring(SECRET);
    const { key, wrapped } = keyring.newRecordingKey();
    expect(key).toHaveLength(32);
    expect(wrapped).toMatch(/^v1\.[\w-]+\.[\w-]+$/);
    expect(createKeyring(SECRET).unwrap(wrapped).equals(key)).toBe(true);
  });

  it("gives every recording its own key", () => {
    const keyring = createKeyring(SECRET);
    expect(keyring.newRecordingKey().key.equals(keyring.newRecordingKey().key)).toBe(false);
  });

  it("refuses to unwrap under another server secret", () => {
    const { wrapped } = createKeyring(SECRET).newRecordingKey();
    expect(() => createKeyring(`${SECRET}, but another one`).unwrap(wrapped)).toThrow(
      RecordingKeyUnwrapFailed,
    );
  });

  it("refuses an altered or malformed wrapped key", () => {
    const keyring = createKeyring(SECRET);
    const { wrapped } = keyring.newRecordingKey();
    const [version, iv, encrypted] = wrapped.split(".");
    const flipped = Buffer.from(encrypted!, "base64url");
    flipped[0]! ^= 1;
    expect(() => keyring.unwrap(`${version}.${iv}.${flipped.toString("base64url")}`)).toThrow(
      /another server secret, or altered/,
    );
    for (const bad of ["", "v2.a.b", `${version}.${iv}`, `${version}.AAAA.${encrypted}`]) {
      expect(() => keyring.unwrap(bad)).toThrow(RecordingKeyUnwrapFailed);
    }
  });

  it("refuses a short secret", () => {
    expect(() => createKeyring("short")).toThrow(/at least 32 characters/);
  });
});

describe("sealed segments", () => {
  const { key } = createKeyring(SECRET).newRecordingKey();

  it("open to the sealed bytes", async () => {
    const sealed = await sealSegment(key, "rec-1", 1, segment);
    expect(sealed.length).toBe(12 + segment.length + 16);
    expect(Buffer.from(await openSegment(key, "rec-1", 1, sealed)).equals(segment)).toBe(true);
  });

  it("get a fresh IV each time, so sealing the same bytes twice differs", async () => {
    const a = await sealSegment(key, "rec-1", 1, segment);
    const b = await sealSegment(key, "rec-1", 1, segment);
    expect(Buffer.from(a.subarray(0, 12)).equals(b.subarray(0, 12))).toBe(false);
  });

  it("do not open with one byte changed, anywhere", async () => {
    const sealed = await sealSegment(key, "rec-1", 1, segment);
    for (const at of [0, 11, 12, 1000, sealed.length - 1]) {
      const tampered = Uint8Array.from(sealed);
      tampered[at]! ^= 0x80;
      await expect(openSegment(key, "rec-1", 1, tampered)).rejects.toBeInstanceOf(SegmentTampered);
    }
  });

  it("do not open at another position or in another recording", async () => {
    const sealed = await sealSegment(key, "rec-1", 2, segment);
    await expect(openSegment(key, "rec-1", 3, sealed)).rejects.toThrow(
      /Segment 3 of recording rec-1 could not be opened/,
    );
    await expect(openSegment(key, "rec-2", 2, sealed)).rejects.toBeInstanceOf(SegmentTampered);
  });

  it("do not open with another recording's key", async () => {
    const sealed = await sealSegment(key, "rec-1", 1, segment);
    const other = createKeyring(SECRET).newRecordingKey().key;
    await expect(openSegment(other, "rec-1", 1, sealed)).rejects.toBeInstanceOf(SegmentTampered);
  });

  it("do not open when cut short", async () => {
    await expect(openSegment(key, "rec-1", 1, new Uint8Array(27))).rejects.toBeInstanceOf(SegmentTampered);
  });

  it("refuse a key of the wrong length", async () => {
    await expect(sealSegment(key.subarray(0, 16), "rec-1", 1, segment)).rejects.toThrow(/32 bytes/);
  });
});
