import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseSignalMessage, SIGNAL_LIMITS, signalMessage } from "./signaling.ts";

const sid = "11111111-1111-4111-8111-111111111111";
const pid = "22222222-2222-4222-8222-222222222222";
const valid = [
  { type: "presence/hello", v: 1, auth: { kind: "agent", agentId: sid, secret: "s".repeat(43) } },
  { type: "presence/hello", v: 1, auth: { kind: "ticket", ticket: "t".repeat(100) } },
  { type: "session/accept", sessionId: sid },
  { type: "session/deny", sessionId: sid, reason: "consent_timeout" },
  { type: "signal/offer", sessionId: sid, participantId: pid, sdp: "v=0" },
  {
    type: "signal/ice",
    sessionId: sid,
    participantId: pid,
    candidate: { candidate: "candidate:1", sdpMid: "0", sdpMLineIndex: 0 },
  },
  { type: "signal/ice", sessionId: sid, participantId: pid, candidate: null },
  { type: "control/grant", sessionId: sid, to: pid },
  {
    type: "session/participants",
    sessionId: sid,
    version: 3,
    controllerId: pid,
    participants: [
      {
        id: pid,
        userId: sid,
        name: "Ada",
        email: "ada@example.com",
        tenant: "Acme",
        kind: "technician",
        owner: true,
        admitted: true,
        connected: true,
        peer: "page-instance-1",
        requestingControl: false,
      },
    ],
  },
  { type: "heartbeat/ping", t: 1 },
  {
    type: "session/request",
    sessionId: sid,
    technician: { id: pid, name: "Ada", email: "ada@example.com", tenant: "Acme" },
    consent: "unattended",
    clipboardPolicy: {
      direction: "in",
      maxBytes: 4096,
      blockedPatterns: { cardNumbers: true, nationalIds: false, custom: ["secret-\\d+"] },
    },
  },
  {
    type: "clipboard/event",
    sessionId: sid,
    participantId: pid,
    flow: "in",
    allowed: false,
    rule: "custom:0",
    bytes: 12,
    sha256: "ab".repeat(32),
  },
  {
    type: "clipboard/event",
    sessionId: sid,
    flow: "out",
    allowed: true,
    rule: "allowed",
    bytes: 0,
    sha256: "0".repeat(64),
  },
];

describe("parseSignalMessage", () => {
  it.each(valid)("accepts $type", (message) => {
    expect(parseSignalMessage(JSON.stringify(message))).toEqual({ ok: true, message });
  });

  it("explains what is wrong", () => {
    expect(parseSignalMessage("{")).toEqual({ ok: false, error: "message is not valid JSON" });
    expect(parseSignalMessage('{"type":"signal/offer","sessionId":"x","sdp":"v=0"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^invalid message — sessionId: /),
    });
    expect(parseSignalMessage('{"type":"nope"}')).toMatchObject({
      ok: false,
      error: expect.stringMatching(/type/),
    });
    expect(
      parseSignalMessage(JSON.stringify({ type: "presence/hello", v: 2, auth: valid[1]!.auth })),
    ).toMatchObject({
      ok: false,
      error: expect.stringMatching(/^invalid message — v: /),
    });
  });

  it("refuses an SDP over 64 KiB and a frame over the frame limit", () => {
    const sdp = "x".repeat(SIGNAL_LIMITS.sdpBytes + 1);
    expect(parseSignalMessage(JSON.stringify({ type: "signal/offer", sessionId: sid, sdp })).ok).toBe(false);
    expect(parseSignalMessage(" ".repeat(SIGNAL_LIMITS.maxFrameBytes + 1))).toMatchObject({
      ok: false,
      error: expect.stringMatching(/too large/),
    });
  });

  it("never throws on arbitrary text, and accepts only what the schema accepts", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2000 }), (text) => {
        const result = parseSignalMessage(text);
        if (result.ok) expect(signalMessage.safeParse(JSON.parse(text)).success).toBe(true);
        else expect(result.error.length).toBeGreaterThan(0);
      }),
      { numRuns: 2000 },
    );
  });

  it("never throws on arbitrary JSON, including valid messages with one field replaced", () => {
    const mutated = fc
      .tuple(fc.constantFrom(...valid), fc.string({ maxLength: 20 }), fc.jsonValue())
      .map(([message, key, value]) => ({
        ...message,
        [Object.keys(message)[key.length % Object.keys(message).length]!]: value,
      }));
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), mutated), (value) => {
        const result = parseSignalMessage(JSON.stringify(value) ?? "null");
        expect(typeof result.ok).toBe("boolean");
        if (result.ok) expect(result.message.type).toMatch(/^[a-z]+\/[a-z]+$|^error$/);
      }),
      { numRuns: 3000 },
    );
  });

  it("takes the fast path for relayed messages only when the schema agrees", () => {
    const relay = fc.constantFrom(
      { type: "signal/offer", sessionId: sid, participantId: pid, sdp: "v=0" },
      { type: "signal/answer", sessionId: sid, participantId: pid, sdp: "v=0" },
      {
        type: "signal/ice",
        sessionId: sid,
        participantId: pid,
        candidate: { candidate: "c", sdpMid: "0", sdpMLineIndex: 0, usernameFragment: "u" },
      },
      { type: "signal/ice", sessionId: sid, participantId: pid, candidate: null },
      { type: "heartbeat/pong", t: 1 },
      { type: "heartbeat/ping", t: 2.5 },
    );
    const value = fc.oneof(
      fc.double(),
      fc.jsonValue(),
      fc.constant(null),
      fc.constant(undefined),
      fc.integer(),
      fc.uuid(),
      fc.string({ maxLength: 80 }),
      fc.constant("x".repeat(SIGNAL_LIMITS.sdpBytes + 1)),
      fc.record(
        {
          candidate: fc.oneof(fc.string(), fc.integer()),
          sdpMid: fc.oneof(fc.string(), fc.constant(null)),
          sdpMLineIndex: fc.oneof(fc.integer({ min: -5, max: 300 }), fc.double()),
          extra: fc.string(),
        },
        { requiredKeys: [] },
      ),
    );
    const mutated = fc
      .tuple(
        relay,
        fc.constantFrom("type", "sessionId", "participantId", "sdp", "candidate", "t", "extra"),
        value,
        fc.boolean(),
      )
      .map(([message, key, v, drop]) => {
        const copy: Record<string, unknown> = { ...message };
        if (drop) delete copy[key];
        else copy[key] = v;
        return copy;
      });
    fc.assert(
      fc.property(fc.oneof(relay, mutated), (candidate) => {
        const text = JSON.stringify(candidate);
        const ours = parseSignalMessage(text);
        const schema = signalMessage.safeParse(JSON.parse(text));
        expect(ours.ok).toBe(schema.success);
        if (ours.ok && schema.success) expect(ours.message).toEqual(schema.data);
      }),
      { numRuns: 5000 },
    );
  });

  it("refuses unknown fields, so a validated frame can be relayed as it came", () => {
    expect(
      parseSignalMessage(
        JSON.stringify({ type: "signal/offer", sessionId: sid, participantId: pid, sdp: "v=0", x: 1 }),
      ).ok,
    ).toBe(false);
    expect(
      parseSignalMessage(JSON.stringify({ type: "session/accept", sessionId: sid, extra: true })).ok,
    ).toBe(false);
  });
});

describe("clipboard policy and clipboard events", () => {
  const request = {
    type: "session/request",
    sessionId: sid,
    technician: { id: pid, name: "Ada", email: "ada@example.com", tenant: "Acme" },
    consent: "prompt",
  };
  const event = {
    type: "clipboard/event",
    sessionId: sid,
    flow: "out",
    allowed: false,
    rule: "card_number",
    bytes: 19,
    sha256: "f".repeat(64),
  };
  const parse = (message: object) => parseSignalMessage(JSON.stringify(message));

  it("takes a session request without a policy (none: anything goes), and refuses a bad one", () => {
    expect(parse(request).ok).toBe(true);
    expect(parse({ ...request, clipboardPolicy: { direction: "sideways" } })).toMatchObject({
      ok: false,
      error: expect.stringMatching(
        /^invalid message — clipboardPolicy\.direction: Clipboard direction must be/,
      ),
    });
    expect(parse({ ...request, clipboardPolicy: { maxBytes: 0 } }).ok).toBe(false);
    expect(parse({ ...request, clipboardPolicy: { blockedPatterns: { custom: ["("] } } }).ok).toBe(false);
    expect(parse({ ...request, clipboardPolicy: { direction: "in", extra: 1 } }).ok).toBe(false);
  });

  it("accepts each rule the agent's policy can name", () => {
    for (const rule of [
      "direction",
      "size",
      "card_number",
      "national_id",
      "custom:0",
      "custom:19",
      "custom_timeout:7",
    ])
      expect(parse({ ...event, rule }).ok, rule).toBe(true);
    expect(parse({ ...event, allowed: true, rule: "allowed" }).ok).toBe(true);
  });

  it("refuses an event that could carry the text or contradicts itself", () => {
    const refused = [
      { ...event, text: "4111 1111 1111 1111" },
      { ...event, rule: "card_number: 4111 1111 1111 1111" },
      { ...event, rule: "custom:20" },
      { ...event, rule: "allowed" },
      { ...event, allowed: true },
      { ...event, sha256: "F".repeat(64) },
      { ...event, sha256: "f".repeat(63) },
      { ...event, sha256: "4111 1111 1111 1111".padEnd(64, "0") },
      { ...event, bytes: -1 },
      { ...event, bytes: 1.5 },
      { ...event, bytes: 3 * 64 * 1024 + 1 },
      { ...event, flow: "both" },
      { ...event, participantId: "not-a-uuid" },
      { ...event, sessionId: undefined },
    ];
    for (const message of refused) expect(parse(message).ok, JSON.stringify(message)).toBe(false);
  });
});
