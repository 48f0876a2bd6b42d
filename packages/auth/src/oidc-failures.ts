/**
 * Messages for a failed OpenID Connect code exchange: what went wrong and what a person (the user,
 * or the admin who configured single sign-on) can do about it. Built from error codes and claim
 * names only, never from token contents or secrets.
 */
import * as client from "openid-client";

/** Longest piece of provider-supplied text (`error_description`) a message repeats. */
const MAX_PROVIDER_TEXT = 200;

const START_AGAIN = "Start the sign-in again.";
const CHECK_CLIENT_ID =
  "Check that the client ID in the single sign-on settings is the one registered at the identity provider.";

/**
 * A message for a failure of the authorization code exchange or of the ID token checks that
 * follow it (openid-client's `authorizationCodeGrant`, `fetchUserInfo`).
 */
export function tokenFailureMessage(error: unknown): string {
  if (error instanceof client.ResponseBodyError)
    return refusedByProvider(error.error, error.error_description);
  if (!(error instanceof client.ClientError)) {
    return error instanceof TypeError
      ? "The identity provider could not be reached to complete the sign-in. Try again in a moment."
      : "The sign-in could not be completed because of an unexpected error. Try again in a moment.";
  }
  switch (error.code) {
    case "OAUTH_JWT_CLAIM_COMPARISON_FAILED":
      return claimMismatch(comparedClaim(error));
    case "OAUTH_JWT_TIMESTAMP_CHECK_FAILED":
      return "The identity provider's ID token is expired or not yet valid. Check that the clocks of this server and of the provider are correct.";
    case "OAUTH_KEY_SELECTION_FAILED":
      return "The ID token is signed with a key the identity provider does not publish. " + START_AGAIN;
    case "OAUTH_TIMEOUT":
    case "OAUTH_ABORT":
      return "The identity provider did not answer in time. Try again in a moment.";
    case "OAUTH_HTTP_REQUEST_FORBIDDEN":
      return "The identity provider's endpoints use plain http, which this server refuses. Configure the provider to use https.";
    case "OAUTH_INVALID_RESPONSE":
      return causeMessage(error) === "JWT signature verification failed"
        ? "The ID token's signature does not verify with the identity provider's keys; it was not issued by this provider."
        : "The identity provider's answer is not a valid OpenID Connect response. " + START_AGAIN;
    default:
      return "The identity provider's answer could not be used to sign in. " + START_AGAIN;
  }
}

/** A message for an `error=` in the authorization response (RFC 6749 §4.1.2.1). */
export function providerErrorMessage(code: string, description: string | null): string {
  const said = providerText(code, description);
  if (code === "access_denied") {
    return `The sign-in was cancelled at the identity provider, or it denied access${said}.`;
  }
  if (code === "login_required" || code === "interaction_required" || code === "consent_required") {
    return `The identity provider needs you to sign in there first${said}. ${START_AGAIN}`;
  }
  return `The identity provider refused the sign-in${said}. If this persists, check the single sign-on settings.`;
}

function refusedByProvider(code: string, description: string | undefined): string {
  const said = providerText(code, description ?? null);
  if (code === "invalid_grant") {
    // The provider says no more than this on purpose; all of these are one answer to it.
    return (
      `The identity provider refused the sign-in code${said}: it was already used, has expired, was issued ` +
      `to another application, or does not match this sign-in. ${START_AGAIN}`
    );
  }
  if (code === "invalid_client" || code === "unauthorized_client") {
    return (
      `The identity provider did not accept this server's client credentials${said}. Check the client ID ` +
      "and client secret in the single sign-on settings, and that the client uses client_secret_basic."
    );
  }
  return `The identity provider refused to complete the sign-in${said}. ${START_AGAIN}`;
}

function claimMismatch(claim: string | undefined): string {
  switch (claim) {
    case "aud":
    case "azp":
      return `The ID token was issued for another application (audience mismatch). ${CHECK_CLIENT_ID}`;
    case "iss":
      return "The ID token was issued by another identity provider than the configured issuer. Check the issuer URL in the single sign-on settings.";
    case "nonce":
      return "The ID token does not belong to this sign-in (nonce mismatch). " + START_AGAIN;
    default:
      return "The ID token does not match this sign-in. " + START_AGAIN;
  }
}

/** The claim oauth4webapi names when a comparison fails (ClientError → its cause → `claim`). */
function comparedClaim(error: client.ClientError): string | undefined {
  const details: unknown = error.cause instanceof Error ? error.cause.cause : undefined;
  if (typeof details !== "object" || details === null || !("claim" in details)) return undefined;
  return typeof details.claim === "string" ? details.claim : undefined;
}

function causeMessage(error: client.ClientError): string | undefined {
  return error.cause instanceof Error ? error.cause.message : undefined;
}

/** ` (code: description)`, with the provider's words cut short and stripped of control characters. */
function providerText(code: string, description: string | null): string {
  const clean = (text: string) =>
    // eslint-disable-next-line no-control-regex -- removing control characters is the point
    text.replace(/[\u0000-\u001f\u007f]+/g, " ").slice(0, MAX_PROVIDER_TEXT);
  const name = /^[\w.-]{1,64}$/.test(code) ? code : "error";
  return description ? ` (${name}: ${clean(description).trim()})` : ` (${name})`;
}
