/** Random secrets and their stored form. Secrets are shown once; only their SHA-256 is stored. */
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** A 256-bit random token in base64url (43 characters). */
export function generateToken(bytes = 32): string {
  return randomBytes(bytes).toString("base64url");
}

export function sha256Hex(value: string): string {
  return createHash("sha256").update(value).digest("hex");
}

export function constantTimeEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

// Crockford base32 without I, L, O, U: easy to read aloud and type on an agent's console.
const CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";

/** An enrollment code like `7KQ4-M2XD-9HRT-C1VB` (80 bits), typed by a person at the agent. */
export function generateEnrollmentCode(): string {
  const bytes = randomBytes(16);
  let code = "";
  for (let i = 0; i < 16; i++) {
    if (i > 0 && i % 4 === 0) code += "-";
    code += CODE_ALPHABET[bytes[i]! & 31];
  }
  return code;
}

/** The form a code is stored and looked up in: upper case, separators and spaces removed. */
export function normalizeEnrollmentCode(code: string): string {
  return code.toUpperCase().replace(/[\s-]/g, "");
}
