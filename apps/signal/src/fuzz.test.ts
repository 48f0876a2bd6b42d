/**
 * Thousands of malformed frames over live sockets against a real worker, while a real session on
 * the same worker keeps working: the worker stays up, the session is unaffected, and every
 * offender gets error replies or a documented close code.
 */
import { CLOSE_CODES } from "@rd/protocol";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "./testing/client.ts";
import { deployments, type Deployment } from "./testing/deployments.ts";

const TOTAL_FRAMES = 3000;
const DOCUMENTED = new Set<number>(Object.values(CLOSE_CODES));

describe("worker under malformed input", () => {
  let d: Deployment;
  beforeAll(async () => {
    d = await deployments()[0]!.create();
  }, 60_000);
  afterAll(() => d?.close());

  it("stays up, keeps other sessions working, and answers every offender", async () => {
    // A healthy session that must keep relaying throughout.
    const agent = await TestClient.open(d.agentUrl);
    agent.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...d.seed.agentA } });
    await agent.next("presence/welcome");
    const { sessionId, participantId, ticket } = await d.seed.openSession(
      d.seed.techA,
      d.seed.agentA.agentId,
    );
    const viewer = await TestClient.open(d.viewerUrl);
    viewer.send({ type: "presence/hello", v: 1, auth: { kind: "ticket", ticket } });
    await agent.next("session/request");
    agent.send({ type: "session/accept", sessionId });
    await viewer.next("session/state", (m) => m.status === "active");

    const sid = sessionId;
    const frame = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v) ?? "null"),
      fc
        .record({
          type: fc.constantFrom(
            "signal/offer",
            "signal/ice",
            "session/end",
            "presence/hello",
            "control/take",
            "participant/admit",
            "x/y",
          ),
          sessionId: fc.oneof(fc.constant(sid), fc.uuid(), fc.string()),
          participantId: fc.oneof(fc.constant(participantId), fc.uuid(), fc.string()),
          sdp: fc.oneof(fc.string(), fc.integer()),
        })
        .map((v) => JSON.stringify(v)),
      fc.constant(JSON.stringify({ type: "signal/offer", sessionId: sid, sdp: "x".repeat(70 * 1024) })),
      fc.constant("x".repeat(120 * 1024)),
      fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => Buffer.from(bytes)),
    );
    const frames = fc.sample(frame, { numRuns: TOTAL_FRAMES, seed: 42 });

    let sent = 0;
    let offenders = 0;
    const outcomes = { errors: 0, closes: new Map<number, number>() };
    while (sent < frames.length) {
      offenders += 1;
      const offender = await TestClient.open(d.agentUrl);
      // Half the offenders are authenticated agents, half never authenticate.
      if (offenders % 2 === 0) {
        offender.send({ type: "presence/hello", v: 1, auth: { kind: "agent", ...d.seed.agentA2 } });
        await offender.next("presence/welcome");
      }
      while (sent < frames.length && !offender.closed) {
        offender.sendRaw(frames[sent++]!);
        if (sent % 25 === 0) await new Promise((r) => setImmediate(r));
      }
      if (!offender.closed) offender.close();
      const closed = await offender.closedWith(10_000);
      outcomes.errors += offender.received.filter((m) => m.type === "error").length;
      outcomes.closes.set(closed.code, (outcomes.closes.get(closed.code) ?? 0) + 1);
      // Every server-side close used a documented code (1005/1000 are our own client closing).
      if (![1000, 1005].includes(closed.code)) expect(DOCUMENTED.has(closed.code)).toBe(true);
    }

    expect(sent).toBe(TOTAL_FRAMES);
    expect(outcomes.errors + [...outcomes.closes].filter(([c]) => DOCUMENTED.has(c)).length).toBeGreaterThan(
      0,
    );
    // The worker is up and the healthy session still relays both ways.
    expect((await fetch(d.viewerUrl.replace("ws://", "http://").replace("/ws", "/healthz"))).status).toBe(
      200,
    );
    agent.send({ type: "signal/offer", sessionId, participantId, sdp: "v=0 after the storm" });
    expect(await viewer.next("signal/offer")).toMatchObject({ sdp: "v=0 after the storm" });
    viewer.send({ type: "signal/answer", sessionId, participantId, sdp: "v=0 answer" });
    expect(await agent.next("signal/answer")).toMatchObject({ sdp: "v=0 answer" });
    expect(viewer.closed).toBeUndefined();
    expect(agent.closed).toBeUndefined();
    viewer.close();
    agent.close();
  }, 120_000);
});
