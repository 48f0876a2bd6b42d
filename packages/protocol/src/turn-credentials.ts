/**
 * ICE servers as the signaling protocol carries them, and the short-lived TURN credentials in them:
 * the TURN REST API shared-secret scheme (draft-uberti-behave-turn-rest-00 §2.2, coturn's
 * `--use-auth-secret`): username `<unix expiry>:<id>`, credential base64(HMAC-SHA1(secret, username)).
 * The TURN server recomputes the credential from the username, so nothing is stored anywhere and a
 * credential stops working by itself. Web Crypto only: the worker runs on Node and Deno.
 */
import { z } from "zod";

/**
 * The longest (and default) life of a credential. It only has to outlive the ICE checks: coturn
 * checks it when an allocation is made and keeps the allocation afterwards, so a session outlives
 * it, while one that leaked (from a page, a log) is useless ten minutes later.
 */
export const TURN_CREDENTIAL_TTL_SECONDS = 600;
/** Shorter secrets can be guessed offline from one captured credential (HMAC-SHA1, no salt). */
export const TURN_SECRET_MIN_CHARS = 16;

/**
 * `stun:` / `stuns:` host[:port] (RFC 7064) or `turn:` / `turns:` host[:port][?transport=udp|tcp]
 * (RFC 7065). Hosts are names, IPv4, or bracketed IPv6.
 */
const ICE_URL =
  /^(?:stuns?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?|turns?:(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?(?:\?transport=(?:udp|tcp))?)$/;

export const iceServerUrl = z.string().max(512).regex(ICE_URL, {
  error: "must be a turn:, turns:, stun: or stuns: URI, e.g. turn:203.0.113.5:3478?transport=udp",
});

/** One STUN/TURN server for RTCPeerConnection (webrtc-pc §4.2.1 RTCIceServer), always with a URL list. */
export const iceServer = z.strictObject({
  urls: z.array(iceServerUrl).min(1).max(8),
  username: z.string().max(512).optional(),
  credential: z.string().max(256).optional(),
});
export type IceServer = z.infer<typeof iceServer>;
export const iceServerList = z.array(iceServer).max(8);

export interface TurnCredentialInput {
  secret: string;
  /** Who the credential is for; it shows in the TURN server's log. No ":" (the scheme's separator). */
  id: string;
  /** Seconds until it expires; TURN_CREDENTIAL_TTL_SECONDS at most (and by default). */
  ttlSeconds?: number;
  /** The time it is issued at, in milliseconds (tests); now by default. */
  now?: number;
}

export interface TurnCredential {
  username: string;
  credential: string;
  /** Unix time in seconds after which the TURN server refuses it. */
  expiresAt: number;
}

/** Computes one credential. Throws on a bad secret, id or lifetime (a configuration mistake). */
export async function turnCredential(input: TurnCredentialInput): Promise<TurnCredential> {
  checkSecret(input.secret);
  return sign(await hmacKey(input.secret), input);
}

export interface TurnConfig {
  secret: string;
  urls: string[];
  ttlSeconds?: number;
}

/**
 * Checks a TURN configuration once and returns what issues ICE servers from it: one entry with
 * every URL and a fresh credential per call. The HMAC key is imported once.
 */
export function createTurnIssuer(config: TurnConfig): (id: string, now?: number) => Promise<IceServer> {
  checkSecret(config.secret);
  checkTtl(config.ttlSeconds);
  if (config.urls.length === 0) throw new Error("TURN needs at least one URL (RD_TURN_URLS)");
  for (const url of config.urls) {
    if (!iceServerUrl.safeParse(url).success)
      throw new Error(
        `"${url}" is not a turn:, turns:, stun: or stuns: URI (e.g. turn:203.0.113.5:3478?transport=udp)`,
      );
  }
  const key = hmacKey(config.secret);
  return async (id, now) => {
    const { username, credential } = await sign(await key, { id, now, ttlSeconds: config.ttlSeconds });
    return { urls: [...config.urls], username, credential };
  };
}

function checkSecret(secret: string) {
  if (secret.length < TURN_SECRET_MIN_CHARS)
    throw new Error(
      `the TURN secret (RD_TURN_SECRET) must be at least ${TURN_SECRET_MIN_CHARS} characters; generate one with: openssl rand -hex 32`,
    );
}

function checkTtl(ttlSeconds: number | undefined) {
  if (
    ttlSeconds !== undefined &&
    !(Number.isInteger(ttlSeconds) && ttlSeconds >= 1 && ttlSeconds <= TURN_CREDENTIAL_TTL_SECONDS)
  )
    throw new Error(
      `a TURN credential lives 1-${TURN_CREDENTIAL_TTL_SECONDS} seconds (RD_TURN_TTL_SECONDS), not ${ttlSeconds}`,
    );
}

function hmacKey(secret: string): Promise<CryptoKey> {
  return crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(secret),
    { name: "HMAC", hash: "SHA-1" },
    false,
    ["sign"],
  );
}

async function sign(key: CryptoKey, input: Omit<TurnCredentialInput, "secret">): Promise<TurnCredential> {
  checkTtl(input.ttlSeconds);
  if (!/^[^:\s]{1,200}$/.test(input.id))
    throw new Error(`a TURN credential id is 1-200 characters without ":" or spaces, not "${input.id}"`);
  const expiresAt =
    Math.floor((input.now ?? Date.now()) / 1000) + (input.ttlSeconds ?? TURN_CREDENTIAL_TTL_SECONDS);
  const username = `${expiresAt}:${input.id}`;
  const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(username)));
  return { username, credential: btoa(String.fromCharCode(...mac)), expiresAt };
}
