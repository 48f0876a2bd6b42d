/**
 * Encryption at rest of recording segments with AES-256-GCM.
 *
 * Each recording has its own random 256-bit key; the database keeps it wrapped (AES-256-GCM) by a
 * key-wrapping key derived from the server secret with HKDF-SHA256, so neither a copy of the
 * database nor of the store alone reveals a recording, and deleting a recording's row is enough
 * to make its segments unreadable even where the store keeps deleted objects.
 *
 * Wrapped key: `v1.<base64url(12-byte IV)>.<base64url(encrypted key and 16-byte tag)>`.
 * Sealed segment: 12-byte IV | ciphertext | 16-byte tag, with the recording id and the segment's
 * seq as additional authenticated data: a segment copied into another recording or moved to
 * another position does not open.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";

/**
 * 96 bits: the IV length GCM is specified for (NIST SP 800-38D §5.2.1.1). Random IVs under one key
 * stay safe for 2^32 messages (§8.3); a recording has far fewer segments.
 */
const IV_BYTES = 12;
/** GCM's full 128-bit tag. */
const TAG_BYTES = 16;
const KEY_BYTES = 32;
const WRAP_VERSION = "v1";
const WRAP_INFO = "rd recording key wrap v1";
const SEGMENT_AAD_LABEL = "rd recording segment v1";

/** A sealed segment that is not the one sealed for this recording, seq and key. */
export class SegmentTampered extends Error {
  constructor(recordingId: string, seq: number) {
    super(
      `Segment ${seq} of recording ${recordingId} could not be opened: it was altered, belongs to another ` +
        "recording or position, or was sealed with another key.",
    );
    this.name = "SegmentTampered";
  }
}

/** A wrapped recording key that this server cannot unwrap. */
export class RecordingKeyUnwrapFailed extends Error {
  constructor(reason: string) {
    super(`The recording key could not be unwrapped: ${reason}.`);
    this.name = "RecordingKeyUnwrapFailed";
  }
}

export interface RecordingKeyring {
  /** A fresh random key for a new recording, and its wrapped form to store with the recording. */
  newRecordingKey(): { key: Buffer; wrapped: string };
  /** The key back from its wrapped form; throws {@link RecordingKeyUnwrapFailed}. */
  unwrap(wrapped: string): Buffer;
}

/**
 * A keyring whose key-wrapping key is HKDF-SHA256(`secret`, info "rd recording key wrap v1").
 * Synchronous: one HKDF here and one 32-byte AES operation per call take microseconds.
 *
 * @param secret The server secret (RD_SECRET or the generated secret file), at least 32 characters.
 */
export function createKeyring(secret: string): RecordingKeyring {
  if (secret.length < 32)
    throw new Error("The recording keyring's secret must be at least 32 characters long.");
  // No salt (RFC 5869 §3.1 allows it): the input is already a high-entropy server secret; `info`
  // keeps this key apart from every other key derived from the same secret.
  const wrappingKey = Buffer.from(hkdfSync("sha256", secret, Buffer.alloc(0), WRAP_INFO, KEY_BYTES));
  const aad = Buffer.from(WRAP_INFO);

  return {
    newRecordingKey() {
      const key = randomBytes(KEY_BYTES);
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv("aes-256-gcm", wrappingKey, iv).setAAD(aad);
      const encrypted = Buffer.concat([cipher.update(key), cipher.final(), cipher.getAuthTag()]);
      return {
        key,
        wrapped: `${WRAP_VERSION}.${iv.toString("base64url")}.${encrypted.toString("base64url")}`,
      };
    },
    unwrap(wrapped) {
      const parts = wrapped.split(".");
      if (parts.length !== 3 || parts[0] !== WRAP_VERSION)
        throw new RecordingKeyUnwrapFailed("it is malformed");
      const iv = Buffer.from(parts[1]!, "base64url");
      const encrypted = Buffer.from(parts[2]!, "base64url");
      if (iv.length !== IV_BYTES || encrypted.length !== KEY_BYTES + TAG_BYTES) {
        throw new RecordingKeyUnwrapFailed("it is malformed");
      }
      const decipher = createDecipheriv("aes-256-gcm", wrappingKey, iv).setAAD(aad);
      decipher.setAuthTag(encrypted.subarray(KEY_BYTES));
      try {
        return Buffer.concat([decipher.update(encrypted.subarray(0, KEY_BYTES)), decipher.final()]);
      } catch {
        throw new RecordingKeyUnwrapFailed("it was wrapped under another server secret, or altered");
      }
    },
  };
}

/**
 * Encrypts one segment under its recording's key with a fresh random IV. Web Crypto runs it on
 * libuv's thread pool, so a multi-megabyte segment does not stall the event loop.
 */
export async function sealSegment(
  key: Uint8Array,
  recordingId: string,
  seq: number,
  plain: Uint8Array,
): Promise<Uint8Array> {
  const iv = randomBytes(IV_BYTES);
  const encrypted = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: segmentAad(recordingId, seq) },
    await importKey(key, "encrypt"),
    ownBuffer(plain),
  );
  const sealed = new Uint8Array(IV_BYTES + encrypted.byteLength);
  sealed.set(iv);
  sealed.set(new Uint8Array(encrypted), IV_BYTES);
  return sealed;
}

/** Decrypts a sealed segment; throws {@link SegmentTampered} unless it is exactly what was sealed. */
export async function openSegment(
  key: Uint8Array,
  recordingId: string,
  seq: number,
  sealed: Uint8Array,
): Promise<Uint8Array> {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SegmentTampered(recordingId, seq);
  const aesKey = await importKey(key, "decrypt");
  const bytes = ownBuffer(sealed);
  try {
    const plain = await crypto.subtle.decrypt(
      { name: "AES-GCM", iv: bytes.subarray(0, IV_BYTES), additionalData: segmentAad(recordingId, seq) },
      aesKey,
      bytes.subarray(IV_BYTES),
    );
    return new Uint8Array(plain);
  } catch (error) {
    // Web Crypto reports every authentication failure as one OperationError: a wrong key, a
    // wrong position and a flipped bit are indistinguishable, as they should be.
    if (error instanceof DOMException && error.name === "OperationError")
      throw new SegmentTampered(recordingId, seq);
    throw error;
  }
}

function importKey(key: Uint8Array, usage: "encrypt" | "decrypt"): Promise<CryptoKey> {
  if (key.length !== KEY_BYTES)
    throw new RangeError(`A recording key is ${KEY_BYTES} bytes, not ${key.length}.`);
  return crypto.subtle.importKey("raw", ownBuffer(key), "AES-GCM", false, [usage]);
}

/** Web Crypto takes no views of a SharedArrayBuffer; bytes of one (never ours in practice) are copied. */
function ownBuffer(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer ? (bytes as Uint8Array<ArrayBuffer>) : new Uint8Array(bytes);
}

/** A JSON array: unambiguous whatever characters the id holds, unlike a joined string. */
function segmentAad(recordingId: string, seq: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`segment seq ${seq}`);
  return new TextEncoder().encode(JSON.stringify([SEGMENT_AAD_LABEL, recordingId, seq]));
}
