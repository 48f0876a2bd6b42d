/**
 * The OpenID Connect client configuration for one issuer and client: discovered from the issuer's
 * `/.well-known/openid-configuration` and kept for a few minutes, so sign-ins share one discovery
 * and one cache of the provider's signing keys.
 */
import * as client from "openid-client";

/**
 * How long a discovered configuration is reused. Without a cache every sign-in would cost a round
 * trip to the provider before the browser can even be redirected, and another for the provider's
 * signing keys when it comes back (openid-client caches those inside the configuration, and
 * refetches them by itself when a token names a key it does not know). Five minutes keeps a changed
 * endpoint visible soon, while a burst of sign-ins does one discovery.
 */
export const OIDC_DISCOVERY_TTL_MS = 5 * 60_000;

/**
 * Seconds openid-client waits for each request to the provider (discovery, token, userinfo). A
 * person is waiting on the sign-in page; a provider slower than this is as good as down.
 */
const REQUEST_TIMEOUT_SECONDS = 10;

/** What identifies one configuration: the provider, our registration there, and how we reach it. */
export interface OidcClientSettings {
  issuer: string;
  clientId: string;
  clientSecret: string;
  allowInsecureHttp?: boolean;
}

/** Thrown when the issuer's configuration cannot be discovered or the settings are unusable. */
export class OidcDiscoveryError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "OidcDiscoveryError";
  }
}

interface CacheEntry {
  expiresAt: number;
  // The secret and the http allowance are compared, not keyed on, so the secret never sits in a
  // map key, and a changed secret still gets a fresh configuration (the old one would only fail).
  clientSecret: string;
  allowInsecureHttp: boolean;
  configuration: Promise<client.Configuration>;
}

const cache = new Map<string, CacheEntry>();

/**
 * The client configuration for `settings`, discovered now or reused from the last few minutes.
 * Concurrent callers share one discovery; a failed discovery is not cached.
 *
 * @throws {OidcDiscoveryError} the issuer is unreachable, is not an OpenID provider, names itself
 *   differently from `settings.issuer`, or is plain http without the (loopback-only) allowance.
 */
export function oidcConfiguration(
  settings: OidcClientSettings,
  now = Date.now(),
): Promise<client.Configuration> {
  const key = JSON.stringify([settings.issuer, settings.clientId]);
  const allowInsecureHttp = settings.allowInsecureHttp === true;
  const cached = cache.get(key);
  if (
    cached &&
    cached.expiresAt > now &&
    cached.clientSecret === settings.clientSecret &&
    cached.allowInsecureHttp === allowInsecureHttp
  ) {
    return cached.configuration;
  }
  for (const [staleKey, entry] of cache) if (entry.expiresAt <= now) cache.delete(staleKey);
  const configuration = discover(settings, allowInsecureHttp);
  cache.set(key, {
    expiresAt: now + OIDC_DISCOVERY_TTL_MS,
    clientSecret: settings.clientSecret,
    allowInsecureHttp,
    configuration,
  });
  configuration.catch(() => {
    // A provider that was down a moment ago may be back for the next person: try again then.
    if (cache.get(key)?.configuration === configuration) cache.delete(key);
  });
  return configuration;
}

async function discover(
  settings: OidcClientSettings,
  allowInsecureHttp: boolean,
): Promise<client.Configuration> {
  const issuer = parseIssuer(settings.issuer, allowInsecureHttp);
  try {
    return await client.discovery(
      issuer,
      settings.clientId,
      settings.clientSecret,
      // client_secret_basic is what OpenID Connect Core §9 makes the default for a registered
      // client, and some providers (oidc-provider, Okta) accept only the method registered.
      client.ClientSecretBasic(settings.clientSecret),
      {
        timeout: REQUEST_TIMEOUT_SECONDS,
        execute: [
          // Also verify the ID token's signature. OpenID Connect Core §3.1.3.7 lets a client rely on
          // TLS to the token endpoint instead, but verifying costs one cached key fetch and still
          // holds when TLS is intercepted (a corporate proxy) or absent (the loopback allowance).
          client.enableNonRepudiationChecks,
          // Marked deprecated upstream only to make it stand out; it is the documented switch.
          ...(allowInsecureHttp ? [client.allowInsecureRequests] : []),
        ],
      },
    );
  } catch (error) {
    throw new OidcDiscoveryError(
      `Could not load the OpenID Connect configuration of ${issuer.origin}: ${describe(error)}. ` +
        "Check the issuer URL in the single sign-on settings (it must be exactly the provider's issuer).",
      { cause: error },
    );
  }
}

function parseIssuer(text: string, allowInsecureHttp: boolean): URL {
  let issuer: URL;
  try {
    issuer = new URL(text);
  } catch (error) {
    throw new OidcDiscoveryError(`The issuer "${text}" is not a URL.`, { cause: error });
  }
  if (issuer.protocol === "https:") return issuer;
  if (issuer.protocol === "http:" && allowInsecureHttp && isLoopback(issuer.hostname)) return issuer;
  throw new OidcDiscoveryError(
    `The issuer ${issuer.origin} must use https` +
      (allowInsecureHttp ? "; plain http is allowed only on this machine (localhost, 127.0.0.1, ::1)." : "."),
  );
}

// Plain http is for a provider started by a test or on the developer's machine: anything that
// crosses a network would carry the client secret and the user's tokens in the clear.
function isLoopback(hostname: string): boolean {
  return hostname === "localhost" || hostname === "[::1]" || /^127(\.\d{1,3}){3}$/.test(hostname);
}

function describe(error: unknown): string {
  if (error instanceof client.ClientError && error.code === "OAUTH_TIMEOUT")
    return "it did not answer in time";
  if (error instanceof client.ClientError && error.code === "OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED") {
    return "its discovery document names another issuer";
  }
  if (error instanceof client.ClientError && error.code === "OAUTH_RESPONSE_IS_NOT_CONFORM") {
    return "it has no OpenID Connect discovery document there";
  }
  if (error instanceof TypeError) return "it could not be reached";
  return error instanceof Error ? error.message : "unknown error";
}
