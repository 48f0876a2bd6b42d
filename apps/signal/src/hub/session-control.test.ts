/**
 * SessionControl's answer to the race between a session's end and its snapshots, and how a viewer's
 * arrival reaches its agent, with a context of fakes: the contract suite meets these orders only by
 * chance (its "ends from the API" tests flaked on the race), here each order is made on purpose.
 */
import { CLOSE_CODES, type SignalMessage } from "@rd/protocol";
import { createLogger } from "@rd/log";
import { describe, expect, it } from "vitest";
import type { Snapshot } from "../store.ts";
import type { Connection } from "./connection.ts";
import type { HubContext } from "./context.ts";
import { SessionControl } from "./session-control.ts";

const SESSION = "11111111-1111-4111-8111-111111111111";
const VIEWER = "22222222-2222-4222-8222-222222222222";

function snapshot(overrides: Partial<Snapshot> = {}): Snapshot {
  return {
    version: 7,
    controllerId: VIEWER,
    participants: [{ id: VIEWER } as Snapshot["participants"][number]],
    status: "active",
    endReason: null,
    ...overrides,
  };
}

function connection(role: "technician" | "agent"): Connection {
  const identity =
    role === "agent"
      ? { role, agentId: "a", tenantId: "t" }
      : { role, participantId: VIEWER, sessionId: SESSION, tenantId: "t" };
  return { id: role, state: "open", identity, snapshotVersions: new Map() } as unknown as Connection;
}

/**
 * A context whose store answers `current` (or reads through `snapshots`) and whose delivery
 * records what each connection got.
 */
function control(
  current: () => Snapshot,
  connections: Connection[],
  snapshots: () => Promise<Snapshot> = async () => current(),
) {
  const sent = new Map<Connection, SignalMessage[]>();
  const closed = new Map<Connection, { code: number; why: string }>();
  const dropped: Connection[] = [];
  const ctx = {
    log: createLogger("silent", { name: "signal" }),
    store: {
      snapshot: snapshots,
      leftReason: async () => "refused at the machine",
    },
    registry: {
      ofSession: () => connections.filter((c) => !closed.has(c)),
      dropAgentSession: (c: Connection) => dropped.push(c),
    },
    delivery: {
      send: (c: Connection, message: SignalMessage) => sent.set(c, [...(sent.get(c) ?? []), message]),
      close: (c: Connection, code: number, _line: string, why: string) => closed.set(c, { code, why }),
    },
  } as unknown as HubContext;
  return { sessions: new SessionControl(ctx), sent, closed, dropped };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("a session's end racing its snapshots", () => {
  it("a snapshot of the ended session, ahead of the end's own notice: the viewer hears the end and why", async () => {
    const viewer = connection("technician");
    const agent = connection("agent");
    const ended = snapshot({ status: "ended", endReason: "ended_by_technician", version: 8 });
    const { sessions, sent, closed, dropped } = control(() => ended, [viewer, agent]);

    sessions.onNotice({ kind: "participants", sessionId: SESSION } as never);
    await settle();

    expect(sent.get(viewer)).toEqual([
      { type: "session/state", sessionId: SESSION, status: "ended", reason: "ended_by_technician" },
    ]);
    // Closed as ended, not as "left": its participation ended with the session.
    expect(closed.get(viewer)).toEqual({ code: CLOSE_CODES.sessionEnded, why: "ended" });
    // The agent waits for the end's own notice, which also settles the liveness watch.
    expect(sent.get(agent)).toBeUndefined();
    expect(closed.has(agent)).toBe(false);
    expect(dropped).toEqual([]);
  });

  it("a viewer that joins as the session ends is told the end by its catch-up", async () => {
    const viewer = connection("technician");
    const { sessions, sent, closed } = control(
      () => snapshot({ status: "failed", endReason: "agent_offline" }),
      [viewer],
    );
    await sessions.catchUp(viewer, SESSION);
    expect(sent.get(viewer)).toEqual([
      { type: "session/state", sessionId: SESSION, status: "failed", reason: "agent_offline" },
    ]);
    expect(closed.get(viewer)).toEqual({ code: CLOSE_CODES.sessionEnded, why: "ended" });
  });

  it("a live session's snapshot without the viewer closes it as left, with the reason", async () => {
    const viewer = connection("technician");
    const { sessions, closed } = control(() => snapshot({ participants: [] }), [viewer]);
    sessions.onNotice({ kind: "participants", sessionId: SESSION } as never);
    await settle();
    await settle();
    expect(closed.get(viewer)).toEqual({ code: CLOSE_CODES.participantLeft, why: "left" });
  });

  it("a live session's snapshot goes to each connection once per version", async () => {
    const viewer = connection("technician");
    const { sessions, sent, closed } = control(() => snapshot(), [viewer]);
    sessions.onNotice({ kind: "participants", sessionId: SESSION } as never);
    sessions.onNotice({ kind: "participants", sessionId: SESSION } as never);
    await settle();
    expect(sent.get(viewer)?.map((m) => m.type)).toEqual(["session/participants"]);
    expect(closed.has(viewer)).toBe(false);
  });
});

describe("a viewer's arrival: one snapshot read tells the viewer and its agent", () => {
  /** A store whose reads are counted and answered when the test says. */
  function heldReads(current: () => Snapshot) {
    const pending: (() => void)[] = [];
    let reads = 0;
    return {
      get reads() {
        return reads;
      },
      answer: () => pending.splice(0).forEach((resolve) => resolve()),
      snapshot: () => {
        reads++;
        return new Promise<Snapshot>((resolve) => pending.push(() => resolve(current())));
      },
    };
  }
  const participants = (messages: SignalMessage[] | undefined) =>
    messages?.filter((m) => m.type === "session/participants").map((m) => m.version);

  it("the viewer's catch-up reaches the agent, and the arrival's notice then reads nothing", async () => {
    const viewer = connection("technician");
    const agent = connection("agent");
    const store = heldReads(() => snapshot());
    const { sessions, sent } = control(() => snapshot(), [viewer, agent], store.snapshot);

    const caughtUp = sessions.catchUp(viewer, SESSION);
    store.answer();
    await caughtUp;
    expect(participants(sent.get(viewer))).toEqual([7]);
    // The agent offers to the viewer on this snapshot: it must not wait for the notice's own read.
    expect(participants(sent.get(agent))).toEqual([7]);

    sessions.onNotice({ kind: "participants", sessionId: SESSION, agentId: "a", version: 7 });
    await settle();
    expect(store.reads).toBe(1);
  });

  it("a notice that comes while the catch-up reads shares its read", async () => {
    const viewer = connection("technician");
    const agent = connection("agent");
    const store = heldReads(() => snapshot());
    const { sessions, sent } = control(() => snapshot(), [viewer, agent], store.snapshot);

    const caughtUp = sessions.catchUp(viewer, SESSION);
    sessions.onNotice({ kind: "participants", sessionId: SESSION, agentId: "a", version: 7 });
    await settle();
    store.answer();
    await caughtUp;
    await settle();
    expect(store.reads).toBe(1);
    expect(participants(sent.get(agent))).toEqual([7]);
    expect(participants(sent.get(viewer))).toEqual([7]);
  });

  it("the arrival's notice reads first (as on the embedded database): the catch-up shares its read", async () => {
    const viewer = connection("technician");
    const agent = connection("agent");
    const store = heldReads(() => snapshot());
    const { sessions, sent } = control(() => snapshot(), [viewer, agent], store.snapshot);

    sessions.onNotice({ kind: "participants", sessionId: SESSION, agentId: "a", version: 7 });
    await settle();
    const caughtUp = sessions.catchUp(viewer, SESSION, 7);
    store.answer();
    await caughtUp;
    await settle();
    expect(store.reads).toBe(1);
    expect(sent.get(viewer)?.map((m) => m.type)).toEqual(["session/participants", "session/state"]);
    expect(participants(sent.get(agent))).toEqual([7]);
  });

  it("a catch-up reads again when the read under way is older than the viewer's arrival", async () => {
    const viewer = connection("technician");
    let version = 6;
    const store = heldReads(() => snapshot({ version }));
    const { sessions, sent } = control(() => snapshot(), [viewer], store.snapshot);

    sessions.onNotice({ kind: "participants", sessionId: SESSION, agentId: "a", version: 6 });
    await settle();
    const caughtUp = sessions.catchUp(viewer, SESSION, 7);
    store.answer();
    await settle();
    version = 7;
    store.answer();
    await caughtUp;
    expect(store.reads).toBe(2);
    expect(participants(sent.get(viewer))).toEqual([6, 7]);
  });

  it("a notice of a newer version than the read under way reads again", async () => {
    const viewer = connection("technician");
    const agent = connection("agent");
    let version = 7;
    const store = heldReads(() => snapshot({ version }));
    const { sessions, sent } = control(() => snapshot(), [viewer, agent], store.snapshot);

    const caughtUp = sessions.catchUp(viewer, SESSION);
    sessions.onNotice({ kind: "participants", sessionId: SESSION, agentId: "a", version: 8 });
    store.answer();
    await caughtUp;
    version = 8;
    await settle();
    store.answer();
    await settle();
    expect(store.reads).toBe(2);
    expect(participants(sent.get(agent))).toEqual([7, 8]);
    expect(participants(sent.get(viewer))).toEqual([7, 8]);
  });
});
