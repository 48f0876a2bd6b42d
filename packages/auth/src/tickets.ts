/**
 * Short-lived signed tickets that let a browser connect to one session as one participant on the
 * signaling worker. The API issues one with `sessions.create`, `sessions.join` and `sessions.ticket`
 * (a reload or a signaling reconnect); the worker checks it: HMAC-SHA256 over the claims, an expiry
 * of at most two minutes, a one-time id (`jti`) the worker remembers until the ticket expires, so a
 * ticket opens one connection only; then the database, so a ticket of a participant who left or a
 * user deactivated since is refused. Web Crypto only: runs on Node and Deno.
 *
 * Format: `v1.<base64url(JSON claims)>.<base64url(HMAC)>`.
 */
export interface TicketClaims {
  /** Session id. */
  sid: string;
  /** Tenant id. */
  tid: string;
  /**
   * User id; for a candidate, the id of the desk share link they came through (they have no
   * account); for the server's recorder, the recording it writes.
   */
  uid: string;
  /** Participant id: who this user is in the session. */
  pid: string;
  role: "technician" | "candidate" | "recorder";
  /** User's display name and email, shown to the person asked for consent. */
  name: string;
  email: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
  /** One-time id. */
  jti: string;
}

export const TICKET_MAX_TTL_SECONDS = 120;
const PREFIX = "v1";
const encoder = new TextEncoder();

function toBase64Url(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

function fromBase64Url(text: string): Uint8Array<ArrayBuffer> | null {
  if (!/^[A-Za-z0-9_-]+$/.test(text)) return null;
  try {
    const binary = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(binary, (c) => c.charCodeAt(0));
  } catch {
    return null; // impossible length for base64
  }
}

/** Imports the shared secret (RD_SECRET) once; keep the key, not the string. */
export async function importTicketKey(secret: string): Promise<CryptoKey> {
  if (secret.length < 32) throw new Error("The ticket secret must be at least 32 characters long.");
  return crypto.subtle.importKey("raw", encoder.encode(secret), { name: "HMAC", hash: "SHA-256" }, false, [
    "sign",
    "verify",
  ]);
}

export async function signTicket(
  key: CryptoKey,
  claims: Omit<TicketClaims, "exp" | "jti">,
  { ttlSeconds = 60, now = Date.now() }: { ttlSeconds?: number; now?: number } = {},
): Promise<{ ticket: string; expiresAt: Date }> {
  const ttl = Math.min(Math.max(ttlSeconds, 1), TICKET_MAX_TTL_SECONDS);
  const exp = Math.floor(now / 1000) + ttl;
  const full: TicketClaims = { ...claims, exp, jti: crypto.randomUUID() };
  const body = `${PREFIX}.${toBase64Url(encoder.encode(JSON.stringify(full)))}`;
  const signature = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(body)));
  return { ticket: `${body}.${toBase64Url(signature)}`, expiresAt: new Date(exp * 1000) };
}

export type TicketCheck =
  | { ok: true; claims: TicketClaims }
  | { ok: false; reason: "malformed" | "bad_signature"; message: string }
  // Signed by us, so its claims say whose it was (for the audit trail), though it no longer admits.
  | { ok: false; reason: "expired"; message: string; claims: TicketClaims };

/** Checks signature and expiry. Single use is the caller's job (it knows its replay store). */
export async function verifyTicket(key: CryptoKey, ticket: string, now = Date.now()): Promise<TicketCheck> {
  const malformed = { ok: false, reason: "malformed", message: "The ticket is malformed." } as const;
  const parts = ticket.split(".");
  if (parts.length !== 3 || parts[0] !== PREFIX) return malformed;
  const payload = fromBase64Url(parts[1]!);
  const signature = fromBase64Url(parts[2]!);
  if (!payload || !signature) return malformed;
  // crypto.subtle.verify compares in constant time.
  const valid = await crypto.subtle.verify("HMAC", key, signature, encoder.encode(`${parts[0]}.${parts[1]}`));
  if (!valid) return { ok: false, reason: "bad_signature", message: "The ticket's signature is not valid." };
  let claims: TicketClaims;
  try {
    claims = JSON.parse(new TextDecoder().decode(payload)) as TicketClaims;
  } catch {
    return malformed;
  }
  if (typeof claims.exp !== "number" || claims.exp * 1000 <= now) {
    return {
      ok: false,
      reason: "expired",
      message: "The ticket has expired. Reconnect to get a new one.",
      claims,
    };
  }
  return { ok: true, claims };
}
