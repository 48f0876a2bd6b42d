import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OidcDiscoveryError } from "./oidc-discovery.ts";
import { emailDomainAllowed, finishOidcSignIn, OIDC_PENDING_MAX_AGE_MS, startOidcSignIn } from "./oidc.ts";
import {
  signInAtTestProvider,
  startTestOidcProvider,
  type TestOidcProvider,
} from "./testing/oidc-provider.ts";

/** Where the provider sends the browser back to. Never fetched: the test takes the code from it. */
const REDIRECT_URI = "http://localhost:5173/auth/oidc/callback";
const DASHBOARD = {
  id: "dashboard",
  secret: "dashboard-client-secret-for-tests",
  redirectUris: [REDIRECT_URI],
};
const OTHER_APP = {
  id: "other-app",
  secret: "other-app-client-secret-for-tests",
  redirectUris: [REDIRECT_URI],
};

const accounts: Record<string, Record<string, unknown>> = {
  alice: { email: "alice@example.com", email_verified: true, name: "Alice Example" },
  bob: { email: "bob@example.com", email_verified: false, given_name: "Bob", family_name: "Builder" },
  carol: { name: "Carol, who has no email" },
};

/** The two clients and three accounts above; `strictClaims` puts the email only in userinfo. */
const startProvider = ({ strictClaims }: { strictClaims: boolean }) =>
  startTestOidcProvider({ clients: [DASHBOARD, OTHER_APP], accounts, strictClaims });

/** Redeems a code at the provider's token endpoint as `client`, the way that client's server would. */
async function redeemCode(
  provider: TestOidcProvider,
  client: { id: string; secret: string },
  callback: URL,
  codeVerifier: string,
): Promise<unknown> {
  const response = await fetch(new URL("/token", provider.issuer), {
    method: "POST",
    headers: { authorization: `Basic ${btoa(`${client.id}:${client.secret}`)}` },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: callback.searchParams.get("code") ?? "",
      redirect_uri: REDIRECT_URI,
      code_verifier: codeVerifier,
    }),
  });
  expect(response.status).toBe(200);
  return response.json();
}

describe("OpenID Connect sign-in", () => {
  let provider: TestOidcProvider;
  let strictProvider: TestOidcProvider;

  beforeAll(async () => {
    [provider, strictProvider] = await Promise.all([
      startProvider({ strictClaims: false }),
      startProvider({ strictClaims: true }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([provider.close(), strictProvider.close()]);
  });

  it("signs in with a verified email, subject and name from the ID token", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);

    expect(url.origin).toBe(provider.issuer);
    expect(Object.fromEntries(url.searchParams)).toMatchObject({
      client_id: DASHBOARD.id,
      response_type: "code",
      redirect_uri: REDIRECT_URI,
      scope: "openid email profile",
      code_challenge_method: "S256",
      state: pending.state,
      nonce: pending.nonce,
    });
    expect(url.searchParams.get("code_challenge")).not.toBe(pending.codeVerifier);
    expect(pending).toMatchObject({ issuer: provider.issuer, clientId: DASHBOARD.id });

    const callback = await signInAtTestProvider(url, "alice");
    expect(await finishOidcSignIn(settings, pending, callback)).toEqual({
      ok: true,
      subject: "alice",
      email: "alice@example.com",
      emailVerified: true,
      name: "Alice Example",
    });
  });

  it("reports an email the provider has not verified as emailVerified false", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const result = await finishOidcSignIn(settings, pending, await signInAtTestProvider(url, "bob"));
    expect(result).toEqual({
      ok: true,
      subject: "bob",
      email: "bob@example.com",
      emailVerified: false,
      name: "Bob Builder",
    });
  });

  it("reads the email from userinfo when the ID token carries none", async () => {
    const settings = strictProvider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const result = await finishOidcSignIn(settings, pending, await signInAtTestProvider(url, "alice"));
    expect(result).toMatchObject({
      ok: true,
      subject: "alice",
      email: "alice@example.com",
      emailVerified: true,
    });
  });

  it("refuses an account without an email as no_email", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const result = await finishOidcSignIn(settings, pending, await signInAtTestProvider(url, "carol"));
    expect(result).toMatchObject({ ok: false, reason: "no_email" });
  });

  it("refuses a callback whose state was altered as state_mismatch", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice");
    callback.searchParams.set("state", `${pending.state.slice(0, -1)}x`);
    const result = await finishOidcSignIn(settings, pending, callback);
    expect(result).toMatchObject({ ok: false, reason: "state_mismatch" });
    if (!result.ok) expect(result.message).toMatch(/state mismatch/);
  });

  it("refuses a code used twice: the second finish is token_rejected", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice");
    expect(await finishOidcSignIn(settings, pending, callback)).toMatchObject({ ok: true });

    const replay = await finishOidcSignIn(settings, pending, callback);
    expect(replay).toMatchObject({ ok: false, reason: "token_rejected" });
    if (!replay.ok) expect(replay.message).toMatch(/invalid_grant.*already used/);
  });

  it("refuses an ID token issued for another client (audience mismatch)", async () => {
    // Token substitution: the dashboard (client A) runs its own sign-in, but the token endpoint's
    // answer is replaced by tokens that the same provider really issued to "other-app" (client B)
    // for alice, with the dashboard's nonce copied into B's request, so that signature, issuer,
    // nonce and expiry are all valid and only `aud` (= "other-app") gives it away. This is what
    // openid-client's audience check is for: a token meant for one application must not sign
    // anyone into another.
    const settings = provider.settings(DASHBOARD);
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice");

    const other = await startOidcSignIn(provider.settings(OTHER_APP));
    other.url.searchParams.set("nonce", pending.nonce);
    const otherCallback = await signInAtTestProvider(other.url, "alice");
    const tokensForOtherApp = await redeemCode(
      provider,
      OTHER_APP,
      otherCallback,
      other.pending.codeVerifier,
    );

    provider.answerNextTokenRequestWith(tokensForOtherApp);
    const result = await finishOidcSignIn(settings, pending, callback);
    expect(result).toMatchObject({ ok: false, reason: "token_rejected" });
    if (!result.ok) expect(result.message).toMatch(/issued for another application \(audience mismatch\)/);
  });

  it("refuses an ID token whose claims were altered after the provider signed it", async () => {
    // The token endpoint's answer is replaced by real tokens for this very sign-in, except that the
    // ID token's payload now names another email; its signature no longer matches.
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice");
    const genuine = await startOidcSignIn(settings);
    genuine.url.searchParams.set("nonce", pending.nonce);
    const tokens = (await redeemCode(
      provider,
      DASHBOARD,
      await signInAtTestProvider(genuine.url, "alice"),
      genuine.pending.codeVerifier,
    )) as { id_token: string };
    const [header, payload, signature] = tokens.id_token.split(".");
    const claims = JSON.parse(Buffer.from(payload ?? "", "base64url").toString("utf8")) as object;
    const forged = Buffer.from(JSON.stringify({ ...claims, email: "mallory@example.com" })).toString(
      "base64url",
    );

    provider.answerNextTokenRequestWith({ ...tokens, id_token: `${header}.${forged}.${signature}` });
    const result = await finishOidcSignIn(settings, pending, callback);
    expect(result).toMatchObject({ ok: false, reason: "token_rejected" });
    if (!result.ok) expect(result.message).toMatch(/signature does not verify/);
  });

  it("refuses a code issued to another client: the provider will not redeem it for us", async () => {
    // The dashboard's authorization request is altered to name "other-app" as the client, so the
    // provider issues the code to "other-app"; the dashboard then redeems it with its own client
    // credentials, state and verifier. The provider refuses (invalid_grant) before any ID token.
    const settings = provider.settings(DASHBOARD);
    const { url, pending } = await startOidcSignIn(settings);
    url.searchParams.set("client_id", OTHER_APP.id);
    const callback = await signInAtTestProvider(url, "alice");
    const result = await finishOidcSignIn(settings, pending, callback);
    expect(result).toMatchObject({ ok: false, reason: "token_rejected" });
  });

  it("refuses to finish with other settings than the sign-in was started with", async () => {
    const { url, pending } = await startOidcSignIn(provider.settings(OTHER_APP));
    const callback = await signInAtTestProvider(url, "alice");
    const result = await finishOidcSignIn(provider.settings(DASHBOARD), pending, callback);
    expect(result).toMatchObject({ ok: false, reason: "state_mismatch" });
  });

  it("refuses the provider's error response as provider_error", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice", "deny");
    expect(callback.searchParams.get("error")).toBe("access_denied");
    const result = await finishOidcSignIn(settings, pending, callback);
    expect(result).toEqual({
      ok: false,
      reason: "provider_error",
      message:
        "The sign-in was cancelled at the identity provider, or it denied access (access_denied: The person declined.).",
    });
  });

  it("refuses an error response with another state as state_mismatch, not as the provider's error", async () => {
    const settings = provider.settings();
    const { pending } = await startOidcSignIn(settings);
    const forged = new URL(`${REDIRECT_URI}?error=access_denied&state=forged`);
    expect(await finishOidcSignIn(settings, pending, forged)).toMatchObject({
      ok: false,
      reason: "state_mismatch",
    });
  });

  it("refuses a pending sign-in older than 10 minutes as expired, without using the code", async () => {
    const settings = provider.settings();
    const { url, pending } = await startOidcSignIn(settings);
    const callback = await signInAtTestProvider(url, "alice");
    const now = pending.createdAt + 11 * 60_000;
    expect(OIDC_PENDING_MAX_AGE_MS).toBe(10 * 60_000);
    expect(await finishOidcSignIn(settings, pending, callback, { now })).toMatchObject({
      ok: false,
      reason: "expired",
    });
    // The code was not spent: within the time limit the same callback still signs in.
    expect(await finishOidcSignIn(settings, pending, callback)).toMatchObject({ ok: true });
  });

  it("discovers the provider and fetches its keys once for many sign-ins", async () => {
    const fresh = await startProvider({ strictClaims: false });
    try {
      const settings = fresh.settings();
      const started = await Promise.all([1, 2, 3].map(() => startOidcSignIn(settings)));
      for (const { url, pending } of started) {
        expect(
          await finishOidcSignIn(settings, pending, await signInAtTestProvider(url, "alice")),
        ).toMatchObject({
          ok: true,
        });
      }
      expect(fresh.requestsTo("/.well-known/openid-configuration")).toBe(1);
      expect(fresh.requestsTo("/jwks")).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it("refuses a plain-http issuer without the allowance, and with it anywhere but this machine", async () => {
    const settings = provider.settings();
    await expect(startOidcSignIn({ ...settings, allowInsecureHttp: false })).rejects.toBeInstanceOf(
      OidcDiscoveryError,
    );
    await expect(
      startOidcSignIn({ ...settings, issuer: "http://idp.example.com", allowInsecureHttp: true }),
    ).rejects.toThrow(/only on this machine/);
  });
});

describe("emailDomainAllowed", () => {
  const allowed = ["example.com", "Example.ORG"];

  it("allows an exact domain in any case", () => {
    expect(emailDomainAllowed("alice@example.com", allowed)).toBe(true);
    expect(emailDomainAllowed("Alice@EXAMPLE.COM", allowed)).toBe(true);
    expect(emailDomainAllowed("bob@example.org", allowed)).toBe(true);
  });

  it("refuses look-alike domains: suffixes, prefixes and subdomains", () => {
    for (const email of [
      "mallory@evil-example.com",
      "mallory@example.com.evil",
      "mallory@sub.example.com",
      "mallory@example.co",
      "example.com@evil.com",
      "mallory@example.com@evil.com",
    ]) {
      expect(emailDomainAllowed(email, allowed), email).toBe(false);
    }
  });

  it("refuses what is not an email address", () => {
    for (const email of ["", "example.com", "@example.com", "alice@"]) {
      expect(emailDomainAllowed(email, allowed), email).toBe(false);
    }
  });

  it("accepts configured domains written with @ or spaces", () => {
    expect(emailDomainAllowed("alice@example.com", [" @Example.com "])).toBe(true);
  });

  it("allows no one when no domain is listed", () => {
    expect(emailDomainAllowed("alice@example.com", [])).toBe(false);
  });
});
