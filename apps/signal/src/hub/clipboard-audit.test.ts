import type { Logger } from "@rd/log";
import { type SignalMessageOf, TokenBucket } from "@rd/protocol";
import { describe, expect, it } from "vitest";
import type { ClipboardReport } from "../store.ts";
import { CLIPBOARD_REPORT_LIMITS, ClipboardAudit } from "./clipboard-audit.ts";
import type { Connection } from "./connection.ts";

const SESSION = "1c3d5f0c-5a39-4c61-8b8e-a7d36a2f5b9e";
const AGENT = "5f0c5a39-0c61-4b8e-a7d3-6a2f5b9e8c10";

const report: SignalMessageOf<"clipboard/event"> = {
  type: "clipboard/event",
  sessionId: SESSION,
  flow: "out",
  allowed: false,
  rule: "direction",
  bytes: 12,
  sha256: "a".repeat(64),
};

function agentConnection(id: string): Connection {
  return {
    id,
    socket: { send: () => {}, close: () => {}, bufferedAmount: 0 },
    ip: "127.0.0.1",
    state: "open",
    identity: { role: "agent", agentId: AGENT, tenantId: "t", name: "a" },
    sessions: new Set([SESSION]),
    lastHeard: 0,
    protocolErrors: 0,
    messages: new TokenBucket(1, 1),
    bytes: new TokenBucket(1, 1),
    slice: 0,
    snapshotVersions: new Map(),
  };
}

/** The writes and warnings it made; the audit trail itself is clipboard-audit.test.ts's one level up. */
function recorder() {
  let now = 0;
  const written: ClipboardReport[] = [];
  const warnings: Record<string, unknown>[] = [];
  const refused: string[] = [];
  const audit = new ClipboardAudit({
    store: {
      recordClipboard: async (_agent, fields) => {
        written.push(fields);
        return { ok: true };
      },
    },
    delivery: { refuse: (_c, code) => void refused.push(code) },
    log: { warn: (fields: Record<string, unknown>) => warnings.push(fields) } as unknown as Logger,
    now: () => now,
  });
  return { audit, written, warnings, refused, advance: (ms: number) => (now += ms) };
}

describe("ClipboardAudit", () => {
  it("records reports as they come, with the message's fields but its type", async () => {
    const { audit, written } = recorder();
    await audit.fromAgent(agentConnection("c1"), report);
    const { type: _type, ...fields } = report;
    expect(written).toEqual([fields]);
  });

  it("drops a flood beyond the budget with one warning, takes more once it refills, and refuses nothing", async () => {
    const { audit, written, warnings, refused, advance } = recorder();
    const connection = agentConnection("c1");
    for (let i = 0; i < 100; i++) await audit.fromAgent(connection, report);
    expect(written).toHaveLength(CLIPBOARD_REPORT_LIMITS.burst);
    expect(warnings).toEqual([{ agentId: AGENT, connection: "c1", dropped: 1 }]);
    advance(1000);
    for (let i = 0; i < 100; i++) await audit.fromAgent(connection, report);
    expect(written).toHaveLength(CLIPBOARD_REPORT_LIMITS.burst + CLIPBOARD_REPORT_LIMITS.perSecond);
    // A new burst of drops says so once more, with the total so far.
    expect(warnings).toEqual([
      { agentId: AGENT, connection: "c1", dropped: 1 },
      { agentId: AGENT, connection: "c1", dropped: 81 },
    ]);
    expect(refused).toEqual([]);
  });

  it("budgets each connection on its own: an agent's reconnect starts afresh", async () => {
    const { audit, written } = recorder();
    const before = agentConnection("c1");
    const after = agentConnection("c2");
    for (let i = 0; i < 50; i++) await audit.fromAgent(before, report);
    for (let i = 0; i < 50; i++) await audit.fromAgent(after, report);
    expect(written).toHaveLength(2 * CLIPBOARD_REPORT_LIMITS.burst);
  });

  it("answers a report the store refuses with an error to the agent", async () => {
    const refused: string[] = [];
    const audit = new ClipboardAudit({
      store: { recordClipboard: async () => ({ ok: false, code: "not_found", message: "no" }) },
      delivery: { refuse: (_c, code, _m, ref) => void refused.push(`${code} ${ref}`) },
      log: { warn: () => {} } as unknown as Logger,
    });
    await audit.fromAgent(agentConnection("c1"), report);
    expect(refused).toEqual(["not_found clipboard/event"]);
  });
});
