/** @rd/auth: dashboard sessions (lucia), passwords, secrets and codes, sign-in limits, CSRF. */
export { createAuth, SESSION_COOKIE, type Auth, type AuthOptions, type AuthUser } from "./lucia.ts";
export { hashPassword, verifyPassword, PASSWORD_MIN_LENGTH, PASSWORD_MAX_LENGTH } from "./password.ts";
export {
  generateToken,
  sha256Hex,
  constantTimeEqual,
  generateEnrollmentCode,
  normalizeEnrollmentCode,
} from "./secrets.ts";
export { AttemptLimiter } from "./attempt-limiter.ts";
export { resolveSecret } from "./secret-file.ts";
export { signIn, createSignInLimits, type SignInLimits, type SignInResult } from "./sign-in.ts";
export { CSRF_COOKIE, CSRF_HEADER, CSRF_FIELD, generateCsrfToken, csrfTokenMatches } from "./csrf.ts";
