/** @rd/auth: dashboard sessions (lucia), passwords, secrets and codes, sign-in limits, CSRF. */
export {
  authUserOf,
  createAuth,
  SESSION_COOKIE,
  type AccountGate,
  type Auth,
  type AuthOptions,
  type AuthUser,
} from "./lucia.ts";
export { twoFactorRequired, type TwoFactorPolicy } from "./two-factor-policy.ts";
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
export {
  signIn,
  createSignInLimits,
  waitMessage,
  type SecurityReport,
  type SignInLimits,
  type SignInResult,
} from "./sign-in.ts";
export { verifySecondFactor, recordSignIn, totpAad, type SecondFactorResult } from "./second-factor.ts";
export { ProgressiveThrottle, type ThrottleVerdict } from "./progressive-throttle.ts";
export { clientKey } from "./client-key.ts";
export { CSRF_COOKIE, CSRF_HEADER, CSRF_FIELD, generateCsrfToken, csrfTokenMatches } from "./csrf.ts";
export { createSecretBox, SecretBoxError, type SecretBox, type SecretBoxFailure } from "./secret-box.ts";
export {
  newTotpSecret,
  totpKeyUri,
  totpQrSvg,
  totpSecretText,
  totpStep,
  verifyTotp,
  generateRecoveryCodes,
  normalizeRecoveryCode,
  hashRecoveryCode,
  TOTP_PERIOD_SECONDS,
  TOTP_DIGITS,
  RECOVERY_CODE_COUNT,
  type TotpCheck,
} from "./totp.ts";
export {
  startOidcSignIn,
  finishOidcSignIn,
  emailDomainAllowed,
  OIDC_PENDING_MAX_AGE_MS,
  type OidcSettings,
  type PendingOidc,
  type OidcSignInResult,
  type OidcFailureReason,
} from "./oidc.ts";
export { OidcDiscoveryError } from "./oidc-discovery.ts";
