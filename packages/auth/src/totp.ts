/**
 * Two-factor sign-in primitives: TOTP keys, key URIs and their QR code, code checks that refuse a
 * replayed code (RFC 6238), and one-time recovery codes. No storage here: the caller keeps the key
 * sealed (secret-box.ts), the last accepted step and the recovery-code hashes.
 */
import { encodeBase32UpperCaseNoPadding } from "@oslojs/encoding";
import { verifyHOTP } from "@oslojs/otp";
import { renderSVG } from "uqr";
import { sha256Hex } from "./secrets.ts";

/**
 * SHA-1, 30 s, 6 digits: RFC 6238's defaults and the only parameters every authenticator app
 * honours (several ignore `algorithm`, `period` and `digits` in the URI and use these anyway).
 */
export const TOTP_PERIOD_SECONDS = 30;
export const TOTP_DIGITS = 6;
/** 160 bits: the HMAC-SHA-1 block output, RFC 4226 §4's recommended key length. */
const TOTP_SECRET_BYTES = 20;
/**
 * Steps accepted either side of the current one: RFC 6238 §5.2 recommends at most one step of
 * network delay; it also absorbs a phone clock up to ~30 s off.
 */
const TOTP_SKEW_STEPS = 1;

/** A new random TOTP key (20 bytes). Seal it before storing it. */
export function newTotpSecret(): Uint8Array {
  return crypto.getRandomValues(new Uint8Array(TOTP_SECRET_BYTES));
}

/**
 * The `otpauth://totp/Issuer:account?secret=…&issuer=…&algorithm=SHA1&digits=6&period=30` URI an
 * authenticator app enrolls from (https://github.com/google/google-authenticator/wiki/Key-Uri-Format);
 * the secret is base32 without padding.
 *
 * @throws TypeError if `issuer` or `accountName` contains a colon, which the format forbids.
 */
export function totpKeyUri({
  issuer,
  accountName,
  secret,
}: {
  issuer: string;
  accountName: string;
  secret: Uint8Array;
}): string {
  if (issuer.includes(":") || accountName.includes(":")) {
    throw new TypeError("A TOTP issuer or account name cannot contain a colon.");
  }
  // Built by hand rather than with @oslojs/otp's createTOTPKeyURI: that one form-encodes the query
  // (a space becomes "+"), which Google Authenticator shows literally (oslo-project/otp#8). The
  // format wants RFC 3986 percent-encoding everywhere.
  const params = {
    secret: encodeBase32UpperCaseNoPadding(secret),
    issuer,
    algorithm: "SHA1",
    digits: String(TOTP_DIGITS),
    period: String(TOTP_PERIOD_SECONDS),
  };
  const query = Object.entries(params)
    .map(([name, value]) => `${name}=${encodeURIComponent(value)}`)
    .join("&");
  return `otpauth://totp/${encodeURIComponent(issuer)}:${encodeURIComponent(accountName)}?${query}`;
}

/** The secret as people type it into an app that cannot scan: base32, upper case, no padding. */
export function totpSecretText(secret: Uint8Array): string {
  return encodeBase32UpperCaseNoPadding(secret);
}

/**
 * The QR code of a key URI as a standalone SVG document, rendered here so the secret never leaves
 * the server. It has a `viewBox` and no size: size it with CSS.
 */
export function totpQrSvg(uri: string): string {
  return renderSVG(uri, {
    // M (15 % recovery) survives screen glare and moiré at little cost in module count.
    ecc: "M",
    // The 4-module quiet zone the QR specification asks for; some phone scanners need it.
    border: 4,
    // One unit per module keeps the path short; the viewBox scales it.
    pixelSize: 1,
  });
}

/** The outcome of {@link verifyTotp}; on success, store `step` as the next call's `lastUsedStep`. */
export type TotpCheck = { ok: true; step: number } | { ok: false };

/** The 30-second time step (RFC 6238's T) that `now` (milliseconds since the epoch) falls in. */
export function totpStep(now: number): number {
  return Math.floor(now / 1000 / TOTP_PERIOD_SECONDS);
}

/**
 * Checks a 6-digit code typed by a person (spaces and dashes ignored) against the current step and
 * one step either side. A code of a step at or before `lastUsedStep` is refused even if right
 * (RFC 6238 §5.2: a code is accepted once), so an observed code cannot be replayed.
 */
export function verifyTotp(
  secret: Uint8Array,
  code: string,
  { now = Date.now(), lastUsedStep = null }: { now?: number; lastUsedStep?: number | null } = {},
): TotpCheck {
  const digits = code.replace(/[\s-]/g, "");
  if (!new RegExp(`^[0-9]{${TOTP_DIGITS}}$`).test(digits)) return { ok: false };
  const current = totpStep(now);
  let accepted: number | null = null;
  // Every candidate step is checked (verifyHOTP compares in constant time), so the time taken
  // says nothing about which step matched or whether it was already used.
  for (let step = Math.max(0, current - TOTP_SKEW_STEPS); step <= current + TOTP_SKEW_STEPS; step++) {
    const matches = verifyHOTP(secret, BigInt(step), TOTP_DIGITS, digits);
    if (matches && (lastUsedStep === null || step > lastUsedStep)) accepted = step;
  }
  return accepted === null ? { ok: false } : { ok: true, step: accepted };
}

/** Recovery codes handed out at enrollment; each signs in once, instead of a TOTP code. */
export const RECOVERY_CODE_COUNT = 10;
/** Crockford's base32 in lower case: no i, l, o or u, so nothing reads as another character. */
const RECOVERY_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz";
/**
 * 16 characters of 5 bits: 80 bits per code. Far more than online guessing needs (sign-in attempts
 * are rate-limited); it is what makes a fast hash safe against a stolen table (see
 * {@link hashRecoveryCode}), where 50 bits would fall to a GPU in days.
 */
const RECOVERY_CODE_CHARS = 16;
const RECOVERY_GROUP_CHARS = 4;

/**
 * Ten fresh recovery codes like `k7q4-m2xd-9hrt-c1vb`. Show them once; store only
 * {@link hashRecoveryCode}.
 */
export function generateRecoveryCodes(): string[] {
  const codes = new Set<string>();
  // A collision among ten 80-bit codes is all but impossible; the set makes "ten unique" certain.
  while (codes.size < RECOVERY_CODE_COUNT) {
    const bytes = crypto.getRandomValues(new Uint8Array(RECOVERY_CODE_CHARS));
    // & 31 is unbiased: 256 is a multiple of the alphabet's 32 letters.
    let code = "";
    for (let i = 0; i < RECOVERY_CODE_CHARS; i++) {
      if (i > 0 && i % RECOVERY_GROUP_CHARS === 0) code += "-";
      code += RECOVERY_ALPHABET[bytes[i]! & 31];
    }
    codes.add(code);
  }
  return [...codes];
}

/**
 * The form a recovery code is hashed in: lower case, spaces and dashes removed, and the letters
 * Crockford's base32 reads as digits (o → 0, i and l → 1) mapped, so a misread code still works.
 */
export function normalizeRecoveryCode(input: string): string {
  return input.toLowerCase().replace(/[\s-]/g, "").replace(/o/g, "0").replace(/[il]/g, "1");
}

/**
 * SHA-256 hex of the normalised code: what to store and look up. Unlike a password, each code is 80
 * random bits, so a fast unsalted hash is enough: searching 2^80 guesses at 10^10 a second takes
 * millions of GPU-years, a thousand stored codes cut that only to thousands, and a slow hash
 * (argon2) would add nothing but a delay to every recovery sign-in.
 */
export function hashRecoveryCode(code: string): string {
  return sha256Hex(normalizeRecoveryCode(code));
}
