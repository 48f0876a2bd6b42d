import { describe, expect, it } from "vitest";
import { importTicketKey, signTicket, TICKET_MAX_TTL_SECONDS, verifyTicket } from "./tickets.ts";

const secret = "s".repeat(32);
const claims = {
  sid: "11111111-1111-4111-8111-111111111111",
  tid: "22222222-2222-4222-8222-222222222222",
  uid: "33333333-3333-4333-8333-333333333333",
  pid: "44444444-4444-4444-8444-444444444444",
  role: "technician" as const,
  name: "Tech",
  email: "tech@example.com",
};

describe("tickets", () => {
  it("round-trips the claims with an expiry and a one-time id", async () => {
    const key = await importTicketKey(secret);
    const { ticket, expiresAt } = await signTicket(key, claims, { ttlSeconds: 60, now: 1_000_000_000_000 });
    const result = await verifyTicket(key, ticket, 1_000_000_000_000);
    expect(result).toMatchObject({ ok: true, claims: { ...claims, exp: 1_000_000_060 } });
    expect(expiresAt.getTime()).toBe(1_000_000_060_000);
    const again = await signTicket(key, claims);
    expect(again.ticket).not.toBe(ticket);
  });

  it("never lives longer than two minutes", async () => {
    const key = await importTicketKey(secret);
    const { expiresAt } = await signTicket(key, claims, { ttlSeconds: 3600, now: 0 });
    expect(expiresAt.getTime()).toBe(TICKET_MAX_TTL_SECONDS * 1000);
  });

  it("refuses an expired ticket, saying whose it was", async () => {
    const key = await importTicketKey(secret);
    const { ticket } = await signTicket(key, claims, { ttlSeconds: 10, now: 0 });
    expect(await verifyTicket(key, ticket, 10_000)).toMatchObject({
      ok: false,
      reason: "expired",
      claims: { tid: claims.tid, uid: claims.uid, sid: claims.sid },
    });
  });

  it("refuses a tampered ticket, one signed with another key, and garbage", async () => {
    const key = await importTicketKey(secret);
    const { ticket } = await signTicket(key, claims);
    const [v, payload, sig] = ticket.split(".");
    const forged = JSON.parse(Buffer.from(payload!, "base64url").toString());
    forged.sid = "44444444-4444-4444-8444-444444444444";
    const tampered = `${v}.${Buffer.from(JSON.stringify(forged)).toString("base64url")}.${sig}`;
    expect(await verifyTicket(key, tampered)).toMatchObject({ ok: false, reason: "bad_signature" });
    const other = await importTicketKey("o".repeat(32));
    expect(await verifyTicket(other, ticket)).toMatchObject({ ok: false, reason: "bad_signature" });
    for (const junk of ["", "v1", "v1.a.b.c", "v2.a.b", "v1.!!!.x", "v1..", `v1.${payload}.`]) {
      expect((await verifyTicket(key, junk)).ok).toBe(false);
    }
  });

  it("refuses a short secret", async () => {
    await expect(importTicketKey("short")).rejects.toThrow(/at least 32 characters/);
  });
});
