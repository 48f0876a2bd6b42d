/**
 * A real OpenID provider for tests: the `oidc-provider` package on a random 127.0.0.1 port, with
 * the clients and accounts a test names, and a sign-in page small enough for both a real browser
 * (Playwright) and {@link signInAtTestProvider} (fetch with a cookie jar) to use.
 *
 * What a person sees there: one page, "Account" (the id of one of the test's accounts) with the
 * buttons "Sign in" and "Deny". There is no consent page: every client is treated as first-party
 * and granted what it asks for. The provider forgets every earlier sign-in, so the page appears on
 * every sign-in, even in a browser that signed in as someone else a moment ago.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import Provider, { type Account, type KoaContextWithOIDC } from "oidc-provider";
import type { OidcSettings } from "../oidc.ts";

/** A client registered at the test provider: this dashboard, or another application. */
export interface TestOidcClient {
  id: string;
  secret: string;
  /** The first is the one {@link TestOidcProvider.settings} uses. */
  redirectUris: readonly string[];
}

export interface TestOidcProviderOptions {
  /** At least one; the first is the default of {@link TestOidcProvider.settings}. */
  clients: readonly TestOidcClient[];
  /**
   * Account id (what is typed into "Account", and the `sub`) → its claims, such as `email`,
   * `email_verified`, `name`, `given_name`, `family_name`. Read at each sign-in, so a test may
   * add accounts to the object after the provider has started.
   */
  accounts: Record<string, Record<string, unknown>>;
  /**
   * Follow OpenID Connect Core §5.4 to the letter: scope claims such as the email only in
   * userinfo (oidc-provider's default). Without (the default here), the ID token carries them,
   * as most providers do.
   */
  strictClaims?: boolean;
}

export interface TestOidcProvider {
  /** `http://127.0.0.1:<port>`, as the discovery document states it. */
  issuer: string;
  /** Settings for signing in as `client` (default: the first), redirecting to its first redirect URI. */
  settings(client?: TestOidcClient): OidcSettings;
  /** How many requests reached `path` (say `/.well-known/openid-configuration`). */
  requestsTo(path: string): number;
  /** Answers the next token request with `body` instead of letting the provider answer it. */
  answerNextTokenRequestWith(body: unknown): void;
  close(): Promise<void>;
}

/** Where the sign-in page lives; `:uid` is the provider's interaction id. */
const INTERACTION_PATH = "/interaction/";

/** Starts a provider; `close()` it when done. */
export async function startTestOidcProvider(options: TestOidcProviderOptions): Promise<TestOidcProvider> {
  const { clients, accounts, strictClaims = false } = options;
  const defaultClient = clients[0];
  if (!defaultClient) throw new TypeError("The test OpenID provider needs at least one client.");

  let handle: (req: IncomingMessage, res: ServerResponse) => Promise<void> = async () => {};
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      res.statusCode = 500;
      res.end(String(error));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  const provider = new Provider(issuer, {
    clients: clients.map(({ id, secret, redirectUris }) => ({
      client_id: id,
      client_secret: secret,
      redirect_uris: [...redirectUris],
      grant_types: ["authorization_code"],
      response_types: ["code"],
    })),
    jwks: { keys: [await rsaSigningKey()] },
    cookies: { keys: ["cookie-signing-key-for-tests"] },
    claims: {
      openid: ["sub"],
      email: ["email", "email_verified"],
      profile: ["name", "given_name", "family_name"],
    },
    conformIdTokenClaims: strictClaims,
    // Short lifetimes, set so the provider does not print a notice per default it falls back to.
    ttl: {
      Interaction: 600,
      Session: 600,
      Grant: 600,
      AccessToken: 600,
      IdToken: 600,
      AuthorizationCode: 60,
    },
    features: { devInteractions: { enabled: false } },
    interactions: { url: (_ctx, interaction) => `${INTERACTION_PATH}${interaction.uid}` },
    loadExistingGrant: grantAllRequested,
    findAccount(_ctx, id): Account | undefined {
      const claims = accounts[id];
      return claims && { accountId: id, claims: () => ({ sub: id, ...claims }) };
    },
  });

  const callback = provider.callback();
  let nextTokenResponse: unknown = null;
  const requests = new Map<string, number>();
  handle = async (req, res) => {
    const path = new URL(req.url ?? "/", issuer).pathname;
    requests.set(path, (requests.get(path) ?? 0) + 1);
    if (path.startsWith(INTERACTION_PATH)) return interact(provider, accounts, req, res);
    if (req.method === "POST" && path === "/token" && nextTokenResponse !== null) {
      await readBody(req);
      res.writeHead(200, { "content-type": "application/json", "cache-control": "no-store" });
      res.end(JSON.stringify(nextTokenResponse));
      nextTokenResponse = null;
      return;
    }
    // The authorization request and its resumption never see the provider's session, so no sign-in
    // is remembered: each one shows the page, and signing in as someone else in the same browser
    // does not take oidc-provider's "end the other session first" detour.
    if (path === "/auth" || path.startsWith("/auth/")) {
      withoutCookie(req, provider.cookieName("session"));
    }
    return callback(req, res);
  };

  return {
    issuer,
    settings: (client = defaultClient) => ({
      issuer,
      clientId: client.id,
      clientSecret: client.secret,
      redirectUri: client.redirectUris[0] ?? "",
      allowInsecureHttp: true,
    }),
    requestsTo: (path) => requests.get(path) ?? 0,
    answerNextTokenRequestWith(body) {
      nextTokenResponse = body;
    },
    close: () =>
      new Promise((resolve) => {
        server.close(() => resolve());
        // A browser keeps connections open; they must not hold the test run.
        server.closeAllConnections();
      }),
  };
}

/**
 * Plays the browser: follows the provider's redirects from `start` (an authorization URL) with a
 * cookie jar, submits its sign-in page as `account` with `decision`, and stops at the first
 * redirect that leaves the provider, returning that URL (the callback an application would
 * receive) without following it.
 *
 * @throws {Error} the provider answered anything else, such as the sign-in page again because
 *   `account` is not one of its accounts (the message holds the start of the page).
 */
export async function signInAtTestProvider(
  start: URL,
  account: string,
  decision: "allow" | "deny" = "allow",
): Promise<URL> {
  const jar = new Map<string, string>();
  let url = start;
  let form: URLSearchParams | undefined;
  // Authorization, sign-in page, its submission, resumption: a few hops; more is a loop.
  for (let hop = 0; hop < 12; hop++) {
    const cookie = [...jar].map(([name, value]) => `${name}=${value}`).join("; ");
    const response = await fetch(url, {
      method: form ? "POST" : "GET",
      body: form,
      headers: cookie ? { cookie } : {},
      redirect: "manual",
    });
    for (const line of response.headers.getSetCookie()) {
      const pair = line.split(";", 1)[0] ?? "";
      const name = pair.slice(0, pair.indexOf("=")).trim();
      const value = pair.slice(pair.indexOf("=") + 1).trim();
      if (value === "" || /expires=thu, 01 jan 1970/i.test(line)) jar.delete(name);
      else jar.set(name, value);
    }
    const body = await response.text();
    const location = response.headers.get("location");
    if (response.status >= 300 && response.status < 400 && location) {
      const next = new URL(location, url);
      if (next.origin !== start.origin) return next;
      url = next;
      form = undefined;
    } else if (response.status === 200 && url.pathname.startsWith(INTERACTION_PATH) && !form) {
      form = new URLSearchParams({ account, decision });
    } else {
      throw new Error(`The provider answered ${response.status} at ${url.pathname}: ${body.slice(0, 300)}`);
    }
  }
  throw new Error("Too many redirects at the provider.");
}

/**
 * The sign-in page. GET shows it; POST is the person submitting it with `account` (who signs in)
 * and `decision` (`allow`, also what pressing Enter sends, or `deny`). An unknown account shows the
 * page again with a message.
 */
async function interact(
  provider: Provider,
  accounts: Record<string, unknown>,
  req: IncomingMessage,
  res: ServerResponse,
): Promise<void> {
  const { uid, prompt, params } = await provider.interactionDetails(req, res);
  if (prompt.name !== "login") {
    // Consent is granted by grantAllRequested, so only the login prompt should ever come here.
    res.writeHead(500, { "content-type": "text/plain" });
    res.end(`The test provider has no page for the ${prompt.name} prompt.`);
    return;
  }
  const client = String(params.client_id);
  if (req.method !== "POST") return page(res, uid, client, "");

  const form = new URLSearchParams(await readBody(req));
  if (form.get("decision") === "deny") {
    const result = { error: "access_denied", error_description: "The person declined." };
    return provider.interactionFinished(req, res, result, { mergeWithLastSubmission: false });
  }
  const account = form.get("account")?.trim() ?? "";
  if (!Object.hasOwn(accounts, account)) {
    return page(res, uid, client, `There is no account "${account}" here.`);
  }
  return provider.interactionFinished(
    req,
    res,
    { login: { accountId: account } },
    { mergeWithLastSubmission: false },
  );
}

function page(res: ServerResponse, uid: string, client: string, error: string): void {
  res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
  res.end(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Test identity provider</title></head>
<body>
  <h1>Sign in to continue to ${escapeHtml(client)}</h1>
  ${error ? `<p role="alert">${escapeHtml(error)}</p>` : ""}
  <form method="post" action="${INTERACTION_PATH}${escapeHtml(uid)}">
    <label>Account <input name="account" autocomplete="off" autofocus></label>
    <button name="decision" value="allow">Sign in</button>
    <button name="decision" value="deny">Deny</button>
  </form>
</body>
</html>`);
}

/**
 * Consent without a page: a new grant of every scope and claim the client asked for, as if the
 * person had pressed "Allow" (oidc-provider's `loadExistingGrant` hook, meant for first-party
 * clients). Sign-ins are never remembered (see the handler), so there is no earlier grant to reuse.
 */
async function grantAllRequested(ctx: KoaContextWithOIDC) {
  const { client, account } = ctx.oidc;
  if (!client || !account) return undefined;
  const grant = new ctx.oidc.provider.Grant({ clientId: client.clientId, accountId: account.accountId });
  grant.addOIDCScope(ctx.oidc.requestParamScopes);
  grant.addOIDCClaims(ctx.oidc.requestParamClaims);
  await grant.save();
  return grant;
}

function withoutCookie(req: IncomingMessage, name: string): void {
  const kept = (req.headers.cookie ?? "")
    .split(";")
    .filter((pair) => {
      const key = pair.slice(0, pair.indexOf("=")).trim();
      // `.sig` is the signature cookie of a signed one.
      return key !== name && key !== `${name}.sig`;
    })
    .join(";");
  req.headers.cookie = kept;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8");
}

async function rsaSigningKey(): Promise<JsonWebKey> {
  const { privateKey } = await crypto.subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: 2048,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  const { kty, n, e, d, p, q, dp, dq, qi } = await crypto.subtle.exportKey("jwk", privateKey);
  return { kty, n, e, d, p, q, dp, dq, qi };
}
