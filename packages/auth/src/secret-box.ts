/**
 * Encryption of small secrets at rest (a user's TOTP key, say) with AES-256-GCM under a key derived
 * from the server secret (RD_SECRET, see secret-file.ts). Web Crypto only, all async: runs on Node
 * and Deno and never blocks the event loop on a request path.
 *
 * Format: `v1.<base64url(12-byte IV)>.<base64url(ciphertext and 16-byte tag)>`.
 */
import { decodeBase64urlIgnorePadding, encodeBase64urlNoPadding } from "@oslojs/encoding";

const VERSION = "v1";
/** 96 bits: the IV length GCM is specified for (NIST SP 800-38D §5.2.1.1); others get hashed. */
const IV_BYTES = 12;
/** GCM's full 128-bit tag, appended to the ciphertext by Web Crypto. */
const TAG_BYTES = 16;
const encoder = new TextEncoder();

/** Why a sealed value could not be opened. */
export type SecretBoxFailure = "malformed" | "tampered";

/** Thrown by {@link SecretBox.open} when a sealed value is not one this box sealed for that `aad`. */
export class SecretBoxError extends Error {
  readonly reason: SecretBoxFailure;

  constructor(reason: SecretBoxFailure, message: string) {
    super(message);
    this.name = "SecretBoxError";
    this.reason = reason;
  }
}

/** Seals and opens values for one purpose; see {@link createSecretBox}. */
export interface SecretBox {
  /**
   * Encrypts `plain` (strings as UTF-8) with a fresh random IV. `aad` is authenticated, not stored:
   * pass what the value belongs to (a user id) so it cannot be copied to another row.
   */
  seal(plain: Uint8Array | string, aad: string): Promise<string>;
  /** Decrypts a sealed value; throws {@link SecretBoxError} if it was altered or `aad` differs. */
  open(sealed: string, aad: string): Promise<Uint8Array>;
  /** {@link SecretBox.open} for a value sealed from a string. */
  openText(sealed: string, aad: string): Promise<string>;
}

/**
 * A box whose key is HKDF-SHA256(`secret`, info = `purpose`): each purpose gets its own key, so a
 * value sealed for one (say `"totp"`) never opens under another. The key is derived once, on first
 * use.
 *
 * @param secret The server secret, at least 32 characters (RD_SECRET or the generated secret file).
 * @param purpose A fixed label naming what the box holds; never user input.
 */
export function createSecretBox(secret: string, purpose: string): SecretBox {
  if (secret.length < 32) throw new Error("The secret-box secret must be at least 32 characters long.");
  if (!purpose) throw new Error("A secret box needs a purpose.");
  let key: Promise<CryptoKey> | undefined;
  const getKey = () => (key ??= deriveKey(secret, purpose));

  async function open(sealed: string, aad: string): Promise<Uint8Array> {
    const parts = parse(sealed);
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: parts.iv, additionalData: encoder.encode(aad) },
        await getKey(),
        parts.ciphertext,
      );
      return new Uint8Array(plain);
    } catch (error) {
      // Web Crypto reports every authentication failure as one OperationError, and should: telling
      // a wrong key from a wrong aad from a flipped bit would help nobody but a forger.
      if (error instanceof DOMException && error.name === "OperationError") {
        throw new SecretBoxError(
          "tampered",
          "The sealed value could not be opened: it was altered, belongs to another record, or was sealed with another key.",
        );
      }
      throw error;
    }
  }

  return {
    async seal(plain, aad) {
      const iv = crypto.getRandomValues(new Uint8Array(IV_BYTES));
      const bytes = typeof plain === "string" ? encoder.encode(plain) : Uint8Array.from(plain);
      const ciphertext = await crypto.subtle.encrypt(
        { name: "AES-GCM", iv, additionalData: encoder.encode(aad) },
        await getKey(),
        bytes,
      );
      return `${VERSION}.${encodeBase64urlNoPadding(iv)}.${encodeBase64urlNoPadding(new Uint8Array(ciphertext))}`;
    },
    open,
    async openText(sealed, aad) {
      return new TextDecoder("utf-8", { fatal: true }).decode(await open(sealed, aad));
    },
  };
}

async function deriveKey(secret: string, purpose: string): Promise<CryptoKey> {
  const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
  return crypto.subtle.deriveKey(
    {
      name: "HKDF",
      hash: "SHA-256",
      // No salt (RFC 5869 §3.1 allows it): the input is already a high-entropy server secret and
      // there is one key per purpose per server, so a salt would add nothing; `info` separates keys.
      salt: new Uint8Array(0),
      info: encoder.encode(`rd/secret-box/${VERSION}/${purpose}`),
    },
    base,
    { name: "AES-GCM", length: 256 },
    false,
    ["encrypt", "decrypt"],
  );
}

function parse(sealed: string): { iv: Uint8Array<ArrayBuffer>; ciphertext: Uint8Array<ArrayBuffer> } {
  const malformed = new SecretBoxError("malformed", "The sealed value is malformed.");
  const parts = sealed.split(".");
  if (parts.length !== 3 || parts[0] !== VERSION) throw malformed;
  const iv = decodeBase64url(parts[1]!);
  const ciphertext = decodeBase64url(parts[2]!);
  if (iv?.length !== IV_BYTES || !ciphertext || ciphertext.length < TAG_BYTES) throw malformed;
  return { iv, ciphertext };
}

function decodeBase64url(text: string): Uint8Array<ArrayBuffer> | null {
  // The decoder accepts an empty string and, being lenient about padding, "=": neither is ours.
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    return Uint8Array.from(decodeBase64urlIgnorePadding(text));
  } catch {
    return null; // impossible length or stray bits
  }
}
