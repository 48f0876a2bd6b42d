/** For tests: the code an authenticator app shows for a key (base32, as the Account page shows it). */
import { decodeBase32IgnorePadding } from "@oslojs/encoding";
import { generateHOTP } from "@oslojs/otp";
import { TOTP_DIGITS, TOTP_PERIOD_SECONDS } from "../totp.ts";

/** The code of the 30 s step `at` (milliseconds since the epoch) falls in; now by default. */
export function totpCodeAt(base32Key: string, at = Date.now()): string {
  const step = BigInt(Math.floor(at / 1000 / TOTP_PERIOD_SECONDS));
  return generateHOTP(decodeBase32IgnorePadding(base32Key), step, TOTP_DIGITS);
}
