import type { Logger } from "@rd/log";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { RefusalEvent } from "../store.ts";
import { SecurityEvents } from "./security-events.ts";

const TENANT = "0b0e7c35-5d43-4c1a-9d7e-0e6f3a4c1d21";
const AGENT = "5f0c5a39-0c61-4b8e-a7d3-6a2f5b9e8c10";
const claims = { tid: TENANT, sid: "1c3d", uid: "u-1" };

/** The audit writes and warnings it made; the audit trail itself is the contract suite's. */
function recorder() {
  const written: RefusalEvent[] = [];
  const warnings: Record<string, unknown>[] = [];
  const log = {
    warn: (fields: Record<string, unknown>) => warnings.push(fields),
  } as unknown as Logger;
  const events = new SecurityEvents({
    store: { recordRefusal: async (event) => void written.push(event) },
    log,
  });
  return { events, written, warnings };
}

describe("SecurityEvents", () => {
  beforeEach(() => vi.useFakeTimers());
  afterEach(() => vi.useRealTimers());

  it("writes one audit event per address, type and tenant a minute, and counts the rest into the next", async () => {
    const { events, written } = recorder();
    for (let i = 0; i < 5; i++) events.agentRefused("203.0.113.9", AGENT, "wrong_secret", TENANT);
    // Another type from the same address has a minute of its own.
    events.ticketRefused("203.0.113.9", "replayed", claims);
    expect(written).toEqual([
      {
        tenantId: TENANT,
        type: "agent_credential_refused",
        agentId: AGENT,
        data: { ip: "203.0.113.9", reason: "wrong_secret" },
      },
      {
        tenantId: TENANT,
        type: "ticket_refused",
        data: { ip: "203.0.113.9", reason: "replayed", sessionId: "1c3d", userId: "u-1" },
      },
    ]);
    // When the minute is over, the four held back come out as one event that says so.
    await vi.advanceTimersByTimeAsync(70_000);
    expect(written).toHaveLength(3);
    expect(written[2]).toMatchObject({
      type: "agent_credential_refused",
      data: { ip: "203.0.113.9", reason: "wrong_secret", suppressed: 3 },
    });
    events.stop();
  });

  it("keeps an IPv6 /64 to one event a minute, and other addresses to their own", () => {
    const { events, written } = recorder();
    events.agentRefused("2001:db8:7:1::10", AGENT, "wrong_secret", TENANT);
    events.agentRefused("2001:db8:7:1::11", AGENT, "wrong_secret", TENANT);
    events.agentRefused("2001:db8:7:2::10", AGENT, "wrong_secret", TENANT);
    expect(written.map((e) => e.data.ip)).toEqual(["2001:db8:7:1::10", "2001:db8:7:2::10"]);
    events.stop();
  });

  it("logs what it cannot pin on a tenant, and writes nothing for it", () => {
    const { events, written, warnings } = recorder();
    events.ticketRefused("198.51.100.4", "bad_signature");
    events.agentRefused("198.51.100.5", AGENT, "unknown_agent");
    events.ticketRefused("198.51.100.6", "outdated", claims);
    events.tooManyUnauthenticated("198.51.100.7");
    expect(written).toEqual([]);
    expect(warnings).toEqual([
      { event: "ticket_refused", ip: "198.51.100.4", reason: "bad_signature" },
      { event: "agent_credential_refused", ip: "198.51.100.5", reason: "unknown_agent", agentId: AGENT },
      expect.objectContaining({ event: "ticket_refused", ip: "198.51.100.6", reason: "outdated" }),
      { event: "too_many_unauthenticated", ip: "198.51.100.7", reason: "unauthenticated_limit" },
    ]);
    events.stop();
  });

  it("warns once per address and kind every ten seconds, with the count of the others", async () => {
    const { events, warnings } = recorder();
    for (let i = 0; i < 100; i++) events.tooManyUnauthenticated("192.0.2.50");
    expect(warnings).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(warnings).toHaveLength(2);
    expect(warnings[1]).toMatchObject({ event: "too_many_unauthenticated", suppressed: 98 });
    events.stop();
  });
});
