import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { parseSignalMessage } from "./signaling.ts";
import {
  createTurnIssuer,
  iceServerUrl,
  TURN_CREDENTIAL_TTL_SECONDS,
  turnCredential,
} from "./turn-credentials.ts";

const SECRET = "0123456789abcdef";
const NOW = 1_700_000_000_000;
const sid = "11111111-1111-4111-8111-111111111111";
const pid = "22222222-2222-4222-8222-222222222222";

describe("turnCredential (TURN REST shared-secret scheme)", () => {
  it("signs <expiry>:<id> with HMAC-SHA1 of the secret, base64 (as coturn's --use-auth-secret checks)", async () => {
    const c = await turnCredential({ secret: SECRET, id: "alice", ttlSeconds: 600, now: NOW });
    expect(c.username).toBe("1700000600:alice");
    // From `printf 1700000600:alice | openssl dgst -sha1 -hmac 0123456789abcdef -binary | base64`.
    expect(c.credential).toBe("X7ZMlwjsIJFB6UlEdWYcxNzOWk0=");
    expect(c.expiresAt).toBe(1_700_000_600);
  });

  it("agrees with Node's own HMAC for any id", async () => {
    const c = await turnCredential({ secret: "another-secret-of-some-length", id: pid, now: NOW });
    expect(c.credential).toBe(
      createHmac("sha1", "another-secret-of-some-length").update(c.username).digest("base64"),
    );
  });

  it("lives ten minutes by default, and never longer", async () => {
    const c = await turnCredential({ secret: SECRET, id: "x", now: NOW });
    expect(c.expiresAt - NOW / 1000).toBe(TURN_CREDENTIAL_TTL_SECONDS);
    expect(TURN_CREDENTIAL_TTL_SECONDS).toBe(600);
    await expect(turnCredential({ secret: SECRET, id: "x", ttlSeconds: 601 })).rejects.toThrow(
      /1-600 seconds \(RD_TURN_TTL_SECONDS\)/,
    );
    await expect(turnCredential({ secret: SECRET, id: "x", ttlSeconds: 0 })).rejects.toThrow(/1-600/);
  });

  it("refuses a short secret and says what to set", async () => {
    await expect(turnCredential({ secret: "short", id: "x" })).rejects.toThrow(
      /RD_TURN_SECRET\) must be at least 16 characters; generate one with: openssl rand -hex 32/,
    );
  });

  it("refuses an id with the scheme's separator", async () => {
    await expect(turnCredential({ secret: SECRET, id: "a:b" })).rejects.toThrow(/without ":"/);
  });
});

describe("createTurnIssuer", () => {
  it("issues one ICE server with every URL and a fresh credential per call", async () => {
    const issue = createTurnIssuer({
      secret: SECRET,
      urls: ["turn:203.0.113.5:3478?transport=udp", "stun:203.0.113.5:3478"],
      ttlSeconds: 300,
    });
    const server = await issue(pid, NOW);
    expect(server).toEqual({
      urls: ["turn:203.0.113.5:3478?transport=udp", "stun:203.0.113.5:3478"],
      username: `1700000300:${pid}`,
      credential: createHmac("sha1", SECRET).update(`1700000300:${pid}`).digest("base64"),
    });
    expect((await issue(pid, NOW + 60_000)).username).toBe(`1700000360:${pid}`);
  });

  it("checks the configuration when it is made, with what to set", () => {
    expect(() => createTurnIssuer({ secret: "short", urls: ["turn:h:3478"] })).toThrow(/RD_TURN_SECRET/);
    expect(() => createTurnIssuer({ secret: SECRET, urls: [] })).toThrow(/RD_TURN_URLS/);
    expect(() => createTurnIssuer({ secret: SECRET, urls: ["http://turn.example.org"] })).toThrow(
      /"http:\/\/turn.example.org" is not a turn:, turns:, stun: or stuns: URI/,
    );
    expect(() => createTurnIssuer({ secret: SECRET, urls: ["turn:h"], ttlSeconds: 3600 })).toThrow(/1-600/);
  });
});

describe("iceServerUrl", () => {
  it.each([
    "turn:203.0.113.5:3478?transport=udp",
    "turn:turn.example.org",
    "turns:turn.example.org:5349?transport=tcp",
    "stun:stun.example.org:3478",
    "turn:[2001:db8::1]:3478",
  ])("accepts %s", (url) => expect(iceServerUrl.safeParse(url).success).toBe(true));

  it.each([
    "http://turn.example.org",
    "turn:",
    "turn:host:3478?transport=sctp",
    "stun:host?transport=udp",
    "turn:host name",
    "turn://host:3478",
  ])("refuses %s", (url) => expect(iceServerUrl.safeParse(url).success).toBe(false));
});

describe("iceServers on the wire", () => {
  const request = {
    type: "session/request",
    sessionId: sid,
    technician: { id: pid, name: "Ada", email: "ada@example.com", tenant: "Acme" },
    consent: "prompt",
  };
  const iceServers = [
    { urls: ["turn:203.0.113.5:3478?transport=udp"], username: "1:x", credential: "c2VjcmV0" },
  ];

  it("rides on session/request and on a viewer's presence/welcome", () => {
    expect(parseSignalMessage(JSON.stringify({ ...request, iceServers })).ok).toBe(true);
    const welcome = { type: "presence/welcome", role: "technician", peerId: "w-1", heartbeatMs: 15000 };
    expect(parseSignalMessage(JSON.stringify({ ...welcome, sessionId: sid, iceServers })).ok).toBe(true);
  });

  it("is optional, so peers from before it still understand each other", () => {
    expect(parseSignalMessage(JSON.stringify(request)).ok).toBe(true);
  });

  it("refuses a server that is not STUN or TURN", () => {
    const bad = { ...request, iceServers: [{ urls: ["http://example.org"] }] };
    expect(parseSignalMessage(JSON.stringify(bad))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/iceServers\.0\.urls\.0: must be a turn:/),
    });
  });
});
