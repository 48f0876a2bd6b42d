/**
 * The clipboard policy through the worker, on every deployment (real workers, database and API):
 * an agent's stored policy reaches it in the session request, and its clipboard reports become
 * audit events (size, hash, rule; never the text), only for sessions the agent is part of.
 */
import { createHash } from "node:crypto";
import { Agents, SessionEvents } from "@rd/db";
import type { ClipboardPolicy } from "@rd/protocol";
import { and, asc, eq, inArray } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TestClient } from "./testing/client.ts";
import { type Deployment, deployments } from "./testing/deployments.ts";

const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** The interview default: pastes in up to 4 KiB, nothing out, cards and ids blocked. */
const INTERVIEW: ClipboardPolicy = {
  direction: "in",
  maxBytes: 4096,
  blockedPatterns: { cardNumbers: true, nationalIds: true, custom: ["secret-[0-9]+"] },
};

describe.each(deployments())("clipboard policy and audit on $name", (kind) => {
  let d: Deployment;
  const clients: TestClient[] = [];

  beforeAll(async () => {
    d = await kind.create();
  }, 60_000);
  afterAll(async () => {
    clients.forEach((c) => c.close());
    await d?.close();
  });

  async function open(url: string, hello: object) {
    const client = await TestClient.open(url);
    clients.push(client);
    client.send({ type: "presence/hello", v: 1, ...hello });
    await client.next("presence/welcome");
    return client;
  }

  /** A fresh agent (with `policy` stored, if any), online, with a session requested of it. */
  async function requested(policy?: ClipboardPolicy) {
    const credentials = await d.seed.newAgent(`clip-${crypto.randomUUID().slice(0, 8)}`);
    if (policy) {
      await d.seed.db.db
        .update(Agents)
        .set({ clipboardPolicy: policy })
        .where(eq(Agents.id, credentials.agentId));
    }
    const a = await open(d.agentUrl, { auth: { kind: "agent", ...credentials } });
    const { sessionId, participantId, ticket } = await d.seed.openSession(d.seed.techA, credentials.agentId);
    const v = await open(d.viewerUrl, { auth: { kind: "ticket", ticket }, peer: "page-clipboard" });
    const request = await a.next("session/request", (m) => m.sessionId === sessionId);
    return { a, v, sessionId, participantId, request, agentId: credentials.agentId };
  }

  /**
   * Waits until everything `client` sent before has been handled: the worker handles a connection's
   * messages one at a time, in order, so the pong comes after the work of what came before it.
   */
  async function settled(client: TestClient) {
    const t = Math.random();
    client.send({ type: "heartbeat/ping", t });
    await client.next("heartbeat/pong", (m) => m.t === t);
  }

  const clipboardEvents = (sessionId: string) =>
    d.seed.db.db
      .select({
        type: SessionEvents.type,
        actorType: SessionEvents.actorType,
        actorId: SessionEvents.actorId,
        agentId: SessionEvents.agentId,
        data: SessionEvents.data,
      })
      .from(SessionEvents)
      .where(
        and(
          eq(SessionEvents.sessionId, sessionId),
          inArray(SessionEvents.type, ["clipboard_allowed", "clipboard_blocked"]),
        ),
      )
      .orderBy(asc(SessionEvents.seq));

  it("hands the agent its clipboard policy in the session request, and none when it has none", async () => {
    const governed = await requested(INTERVIEW);
    expect(governed.request.clipboardPolicy).toEqual(INTERVIEW);
    const free = await requested();
    expect(free.request).not.toHaveProperty("clipboardPolicy");
    governed.a.close();
    free.a.close();
  });

  it("records each report as exactly one audit event with size, hash and rule, and no text", async () => {
    const { a, sessionId, participantId, agentId } = await requested(INTERVIEW);
    a.send({ type: "session/accept", sessionId });
    const pasted = "my card 4111 1111 1111 1111";
    a.send({
      type: "clipboard/event",
      sessionId,
      participantId,
      flow: "in",
      allowed: false,
      rule: "card_number",
      bytes: Buffer.byteLength(pasted),
      sha256: sha256(pasted),
    });
    await settled(a);
    const actor = { actorType: "agent", actorId: agentId, agentId };
    expect(await clipboardEvents(sessionId)).toEqual([
      {
        type: "clipboard_blocked",
        ...actor,
        data: { flow: "in", bytes: 27, sha256: sha256(pasted), rule: "card_number", participantId },
      },
    ]);

    a.send({
      type: "clipboard/event",
      sessionId,
      flow: "out",
      allowed: true,
      rule: "allowed",
      bytes: 5,
      sha256: sha256("hello"),
    });
    await settled(a);
    const events = await clipboardEvents(sessionId);
    expect(events).toHaveLength(2);
    expect(events[1]).toEqual({
      type: "clipboard_allowed",
      ...actor,
      data: { flow: "out", bytes: 5, sha256: sha256("hello"), rule: "allowed" },
    });
    expect(JSON.stringify(events)).not.toContain("4111");
    expect(a.received.filter((m) => m.type === "error")).toEqual([]);
    a.close();
  });

  it("refuses a report for a session the agent is not in, or naming someone not in it, and writes nothing", async () => {
    const mine = await requested(INTERVIEW);
    const theirs = await requested(INTERVIEW);
    const report = { type: "clipboard/event", flow: "in", allowed: true, rule: "allowed", bytes: 1 };
    const hash = { sha256: sha256("x") };

    mine.a.send({ ...report, ...hash, sessionId: theirs.sessionId });
    expect(await mine.a.next("error")).toMatchObject({ code: "forbidden", ref: "clipboard/event" });
    mine.a.send({ ...report, ...hash, sessionId: crypto.randomUUID() });
    expect(await mine.a.next("error")).toMatchObject({ code: "forbidden", ref: "clipboard/event" });
    // Its own session, but someone else's participant.
    mine.a.send({ ...report, ...hash, sessionId: mine.sessionId, participantId: theirs.participantId });
    expect(await mine.a.next("error")).toMatchObject({ code: "not_found", ref: "clipboard/event" });
    // The text itself has no place in the message.
    mine.a.send({ ...report, ...hash, sessionId: mine.sessionId, text: "x" });
    expect(await mine.a.next("error")).toMatchObject({ code: "bad_message" });
    // Viewers make no clipboard decisions.
    mine.v.send({ ...report, ...hash, sessionId: mine.sessionId });
    expect(await mine.v.next("error")).toMatchObject({ code: "forbidden", ref: "clipboard/event" });

    await settled(mine.a);
    await settled(mine.v);
    expect(await clipboardEvents(theirs.sessionId)).toEqual([]);
    expect(await clipboardEvents(mine.sessionId)).toEqual([]);
    mine.a.close();
    theirs.a.close();
  });
});
