/**
 * The real coturn, started as `npm start` starts it, asked for relays with credentials from
 * packages/protocol (by hand, and by a real WebRTC stack, werift): proof that the two halves of the
 * shared-secret scheme agree, and that a wrong or expired credential gets nothing.
 */
import { createHash, createHmac, randomFillSync } from "node:crypto";
import { createSocket } from "node:dgram";
import { createTurnIssuer, type IceServer } from "@rd/protocol";
import { RTCPeerConnection } from "werift";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Coturn, startCoturn, stunBindingAnswered } from "./coturn.ts";

// The test's own ports (3460-3469), clear of the dashboard's, the browser tests' and a system coturn's.
const PORT = 3460;
const SECRET = "coturn-test-secret-0123456789";

/** The candidate types a WebRTC peer gathers with only these servers and the relay-only policy. */
async function gathered(iceServers: IceServer[]): Promise<string[]> {
  const pc = new RTCPeerConnection({ iceServers, iceTransportPolicy: "relay" });
  try {
    pc.createDataChannel("probe");
    await pc.setLocalDescription(await pc.createOffer());
    const deadline = Date.now() + 10_000;
    while (pc.iceGatheringState !== "complete" && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    return [...(pc.localDescription?.sdp ?? "").matchAll(/^a=candidate:.* typ (\w+)/gm)].map((m) => m[1]!);
  } finally {
    await pc.close();
  }
}

/**
 * One TURN Allocate with long-term credentials (RFC 8656 §7.2, RFC 8489 §9.2): the unauthenticated
 * request earns a 401 with the realm and a nonce, the second carries USERNAME, REALM, NONCE and
 * MESSAGE-INTEGRITY keyed by MD5(username:realm:password). Says "allocated" or the error code; a
 * WebRTC stack would retry a refusal for seconds before giving up silently.
 */
async function allocate(port: number, username: string, password: string): Promise<string> {
  // A new socket can get the port of an earlier one whose allocation coturn still holds (437,
  // allocation mismatch): then ask again from another port.
  for (let attempt = 1; ; attempt++) {
    const outcome = await allocateOnce(port, username, password);
    if (outcome !== "error 437" || attempt === 3) return outcome;
  }
}

async function allocateOnce(port: number, username: string, password: string): Promise<string> {
  const socket = createSocket("udp4");
  const exchange = (message: Buffer) =>
    new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("no answer")), 2000);
      socket.once("message", (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      socket.send(message, port, "127.0.0.1");
    });
  try {
    const first = attributes(await exchange(stunMessage(0x0003, [[0x0019, Buffer.from([17, 0, 0, 0])]])));
    const realm = first.get(0x0014);
    if (!realm) return errorOf(first);
    const body: [number, Buffer][] = [
      [0x0019, Buffer.from([17, 0, 0, 0])],
      [0x0006, Buffer.from(username)],
      [0x0014, realm],
      [0x0015, first.get(0x0015)!],
    ];
    const key = createHash("md5").update(`${username}:${realm.toString()}:${password}`).digest();
    const reply = await exchange(stunMessage(0x0003, body, key));
    if (reply.readUInt16BE(0) === 0x0103) return "allocated";
    return errorOf(attributes(reply));
  } finally {
    socket.close();
  }
}

/** "error NNN" from a reply's ERROR-CODE attribute. */
function errorOf(reply: Map<number, Buffer>): string {
  const error = reply.get(0x0009);
  return error ? `error ${(error[2]! & 7) * 100 + error[3]!}` : "a reply with neither a realm nor an error";
}

function stunMessage(type: number, attrs: [number, Buffer][], integrityKey?: Buffer): Buffer {
  const tlv = (t: number, v: Buffer) => {
    const head = Buffer.alloc(4);
    head.writeUInt16BE(t, 0);
    head.writeUInt16BE(v.length, 2);
    return Buffer.concat([head, v, Buffer.alloc((4 - (v.length % 4)) % 4)]);
  };
  let body = Buffer.concat(attrs.map(([t, v]) => tlv(t, v)));
  const header = Buffer.alloc(20);
  header.writeUInt16BE(type, 0);
  header.writeUInt32BE(0x2112a442, 4);
  randomFillSync(header, 8, 12);
  if (integrityKey) {
    // The length counts the MESSAGE-INTEGRITY attribute the HMAC is then computed without.
    header.writeUInt16BE(body.length + 24, 2);
    const mac = createHmac("sha1", integrityKey)
      .update(Buffer.concat([header, body]))
      .digest();
    body = Buffer.concat([body, tlv(0x0008, mac)]);
  }
  header.writeUInt16BE(body.length, 2);
  return Buffer.concat([header, body]);
}

function attributes(message: Buffer): Map<number, Buffer> {
  const found = new Map<number, Buffer>();
  for (let at = 20; at + 4 <= message.length;) {
    const length = message.readUInt16BE(at + 2);
    found.set(message.readUInt16BE(at), message.subarray(at + 4, at + 4 + length));
    at += 4 + length + ((4 - (length % 4)) % 4);
  }
  return found;
}

describe("startCoturn", () => {
  let coturn: Coturn;

  beforeAll(async () => {
    coturn = await startCoturn({ port: PORT, secret: SECRET, minRelayPort: 3464, maxRelayPort: 3469 });
  });
  afterAll(() => coturn?.stop());

  it("answers STUN on its port once started, and names a TURN URL for it", async () => {
    expect(coturn.url).toBe(`turn:127.0.0.1:${PORT}?transport=udp`);
    expect(await stunBindingAnswered("127.0.0.1", PORT, 1000)).toBe(true);
  });

  it("relays for a credential the worker issues with the same secret", async () => {
    const issue = createTurnIssuer({ secret: SECRET, urls: [coturn.url] });
    const server = await issue("peer-1");
    expect(await allocate(PORT, server.username!, server.credential!)).toBe("allocated");
    // And a WebRTC stack gets its relay candidate from it.
    expect(await gathered([await issue("peer-2")])).toContain("relay");
  });

  it("refuses a credential signed with another secret, or one that has expired", async () => {
    const wrong = await createTurnIssuer({ secret: "some-other-secret-0123456789", urls: [coturn.url] })("x");
    expect(await allocate(PORT, wrong.username!, wrong.credential!)).toBe("error 401");
    const issue = createTurnIssuer({ secret: SECRET, urls: [coturn.url], ttlSeconds: 60 });
    const expired = await issue("y", Date.now() - 120_000);
    expect(await allocate(PORT, expired.username!, expired.credential!)).toBe("error 401");
  });

  it("says so when its port is taken, rather than sharing it", async () => {
    await expect(startCoturn({ port: PORT, secret: SECRET })).rejects.toThrow(/port 3460 .* is in use/);
  });

  it("refuses a secret that would not fit on one config line", async () => {
    await expect(startCoturn({ port: PORT + 1, secret: "line\nbreak-0123456789" })).rejects.toThrow(
      /printable ASCII/,
    );
  });

  it("is gone after stop: nothing answers on its port", async () => {
    const other = await startCoturn({
      port: PORT + 2,
      secret: SECRET,
      minRelayPort: 3464,
      maxRelayPort: 3469,
    });
    await other.stop();
    expect(await stunBindingAnswered("127.0.0.1", PORT + 2, 500)).toBe(false);
  });
});
