/**
 * Single sign-on with OpenID Connect: the authorization code flow with PKCE, state and nonce
 * (OpenID Connect Core 1.0 §3.1, RFC 7636), in the two halves a web app needs. {@link startOidcSignIn}
 * runs before the browser is sent to the identity provider, {@link finishOidcSignIn} when it comes
 * back. Where the pending sign-in is kept, and which user an identity belongs to, is the caller's.
 */
import * as client from "openid-client";
import { OidcDiscoveryError, oidcConfiguration } from "./oidc-discovery.ts";
import { providerErrorMessage, tokenFailureMessage } from "./oidc-failures.ts";
import { constantTimeEqual } from "./secrets.ts";

/**
 * How long a started sign-in may take. Long enough to type a password and a second factor at the
 * provider; short, because the pending values are bearer secrets for this one sign-in.
 */
export const OIDC_PENDING_MAX_AGE_MS = 10 * 60_000;

/**
 * How far in the future a pending sign-in's `createdAt` may be: servers behind one load balancer
 * can disagree by seconds. Anything beyond this is not a clock, it is a mistake.
 */
const CLOCK_SKEW_MS = 60_000;

/** `openid` makes it OpenID Connect; `email` and `profile` ask for the claims we link and show. */
const SCOPE = "openid email profile";

/** One identity provider, and this dashboard's registration there. */
export interface OidcSettings {
  /** The provider's issuer identifier, exactly as its discovery document states it. */
  issuer: string;
  /** This dashboard's client ID at the provider. */
  clientId: string;
  /** The client secret; sent with HTTP Basic authentication (client_secret_basic). */
  clientSecret: string;
  /** The callback URL registered at the provider, absolute and without query or fragment. */
  redirectUri: string;
  /** Allows a plain-http issuer on this machine (localhost, 127.0.0.1, ::1): tests and local development only. */
  allowInsecureHttp?: boolean;
}

/**
 * What {@link finishOidcSignIn} needs from {@link startOidcSignIn}. Keep it server-side or sealed
 * (encrypted and authenticated, see secret-box.ts) in a short-lived cookie: `codeVerifier` is what
 * makes an intercepted code useless, so it must never reach the browser readable.
 */
export interface PendingOidc {
  state: string;
  nonce: string;
  codeVerifier: string;
  issuer: string;
  clientId: string;
  /** Milliseconds since the epoch. */
  createdAt: number;
}

/**
 * Why a sign-in was refused. `state_mismatch`: the callback does not belong to this pending
 * sign-in; `expired`: the pending sign-in is older than {@link OIDC_PENDING_MAX_AGE_MS};
 * `provider_error`: the provider answered with `error=`; `token_rejected`: the code exchange or the
 * ID token failed; `no_email`: the provider shared no email address.
 */
export type OidcFailureReason =
  "state_mismatch" | "expired" | "provider_error" | "token_rejected" | "no_email";

/** The outcome of {@link finishOidcSignIn}. A failure's `message` is for people and holds no secrets. */
export type OidcSignInResult =
  | {
      ok: true;
      /** The provider's stable user id (`sub`); unique per issuer, so key identities by both. */
      subject: string;
      email: string;
      /** The provider's `email_verified` claim; `false` when it is absent. */
      emailVerified: boolean;
      name: string | null;
    }
  | { ok: false; reason: OidcFailureReason; message: string };

/**
 * Begins a sign-in: discovers the provider (cached for a few minutes), makes a PKCE verifier and its
 * S256 challenge, a state and a nonce, and builds the URL to send the browser to.
 *
 * @returns `url` for a 303 redirect, and `pending` to keep until the browser comes back.
 * @throws {OidcDiscoveryError} the issuer cannot be discovered, or is plain http where not allowed.
 * @throws {TypeError} `redirectUri` is not an absolute URL, or has a query or fragment.
 */
export async function startOidcSignIn(settings: OidcSettings): Promise<{ url: URL; pending: PendingOidc }> {
  const redirectUri = checkedRedirectUri(settings.redirectUri);
  const configuration = await oidcConfiguration(settings);
  const codeVerifier = client.randomPKCECodeVerifier();
  const pending: PendingOidc = {
    state: client.randomState(),
    nonce: client.randomNonce(),
    codeVerifier,
    issuer: settings.issuer,
    clientId: settings.clientId,
    createdAt: Date.now(),
  };
  const url = client.buildAuthorizationUrl(configuration, {
    redirect_uri: redirectUri,
    scope: SCOPE,
    code_challenge: await client.calculatePKCECodeChallenge(codeVerifier),
    code_challenge_method: "S256",
    state: pending.state,
    nonce: pending.nonce,
  });
  return { url, pending };
}

/**
 * Completes a sign-in when the browser returns to the redirect URI: checks the pending sign-in's
 * age and state, then redeems the code and validates the ID token (signature, issuer, audience,
 * expiry, nonce). The email comes from the ID token, or from userinfo if the ID token has none.
 *
 * Use the pending sign-in once: delete it (or its cookie) before calling, whatever the outcome.
 *
 * @param callbackUrl The URL the browser came back to; only its query is used.
 * @param options.now Milliseconds since the epoch, for tests.
 */
export async function finishOidcSignIn(
  settings: OidcSettings,
  pending: PendingOidc,
  callbackUrl: URL,
  { now = Date.now() }: { now?: number } = {},
): Promise<OidcSignInResult> {
  const age = now - pending.createdAt;
  if (!(age >= -CLOCK_SKEW_MS && age <= OIDC_PENDING_MAX_AGE_MS)) {
    return failure("expired", "The sign-in took longer than 10 minutes. Start the sign-in again.");
  }
  if (pending.issuer !== settings.issuer || pending.clientId !== settings.clientId) {
    return failure(
      "state_mismatch",
      "This sign-in was started with other single sign-on settings, which have changed since. Start the sign-in again.",
    );
  }
  // Checked here before anything else, so a forged callback (login CSRF) is refused without a
  // request to the provider; openid-client checks it again below.
  const state = callbackUrl.searchParams.get("state");
  if (state === null || !constantTimeEqual(state, pending.state)) {
    return failure(
      "state_mismatch",
      "This sign-in response does not belong to the sign-in started in this browser (state mismatch). " +
        "Start the sign-in again; if it keeps happening, check that this browser keeps cookies for this site.",
    );
  }
  const error = callbackUrl.searchParams.get("error");
  if (error !== null) {
    return failure(
      "provider_error",
      providerErrorMessage(error, callbackUrl.searchParams.get("error_description")),
    );
  }

  let configuration: client.Configuration;
  try {
    configuration = await oidcConfiguration(settings);
  } catch (cause) {
    if (cause instanceof OidcDiscoveryError) return failure("token_rejected", cause.message);
    throw cause;
  }
  // openid-client sends this URL, stripped of its query, as the token request's redirect_uri, which
  // must equal the authorization request's exactly. Behind a proxy the URL the app sees can have
  // another origin, so the response parameters are put on the configured redirect URI instead.
  const response = new URL(checkedRedirectUri(settings.redirectUri));
  response.search = callbackUrl.search;

  let tokens: Awaited<ReturnType<typeof client.authorizationCodeGrant>>;
  try {
    tokens = await client.authorizationCodeGrant(configuration, response, {
      pkceCodeVerifier: pending.codeVerifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
  } catch (cause) {
    return failure("token_rejected", tokenFailureMessage(cause));
  }
  const idToken = tokens.claims();
  if (!idToken) {
    // Unreachable with expectedNonce set (openid-client then requires an ID token); kept for types.
    return failure("token_rejected", "The identity provider returned no ID token. Start the sign-in again.");
  }

  // Providers that follow OpenID Connect Core §5.4 strictly put scope claims only in userinfo when
  // an access token is issued; the email and its verified flag then come from there, together.
  let profile: Readonly<Record<string, unknown>> = idToken;
  if (!stringClaim(idToken, "email")) {
    try {
      profile = await client.fetchUserInfo(configuration, tokens.access_token, idToken.sub);
    } catch (cause) {
      return failure("token_rejected", tokenFailureMessage(cause));
    }
  }
  const email = stringClaim(profile, "email");
  if (!email) {
    return failure(
      "no_email",
      "The identity provider did not share an email address for this account. Check that the account has one " +
        "and that the provider lets this application read it (the email scope).",
    );
  }
  return {
    ok: true,
    subject: idToken.sub,
    email,
    // Strictly the boolean: a provider that sends "true" as a string, or nothing, has not said it
    // verified the address, and the caller links accounts only by verified email.
    emailVerified: profile.email_verified === true,
    name: nameOf(profile) ?? nameOf(idToken),
  };
}

/**
 * Whether `email`'s domain is one of `allowedDomains`: case-insensitive and exact, so
 * `example.com` allows `a@example.com` but neither `a@sub.example.com`, `a@evil-example.com` nor
 * `a@example.com.evil`. Entries may be written `@example.com`. An empty list allows no one: skip
 * the check when no restriction is configured.
 */
export function emailDomainAllowed(email: string, allowedDomains: readonly string[]): boolean {
  const at = email.lastIndexOf("@");
  // The last "@": a local part may be quoted and hold one, a domain never does.
  if (at < 1) return false;
  const domain = email.slice(at + 1).toLowerCase();
  if (!domain) return false;
  return allowedDomains.some((entry) => entry.trim().replace(/^@/, "").toLowerCase() === domain);
}

function failure(reason: OidcFailureReason, message: string): OidcSignInResult {
  return { ok: false, reason, message };
}

function checkedRedirectUri(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`The OpenID Connect redirect URI "${text}" is not an absolute URL.`);
  }
  // A query or fragment would be lost on the way to the token endpoint (see finishOidcSignIn).
  if (url.search || url.hash) {
    throw new TypeError(`The OpenID Connect redirect URI "${text}" must not have a query or fragment.`);
  }
  return url.href;
}

function stringClaim(claims: Readonly<Record<string, unknown>>, name: string): string | null {
  const value = claims[name];
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null;
}

function nameOf(claims: Readonly<Record<string, unknown>>): string | null {
  const given = [stringClaim(claims, "given_name"), stringClaim(claims, "family_name")].filter(Boolean);
  return stringClaim(claims, "name") ?? (given.length ? given.join(" ") : null);
}
