/**
 * Interview desks through the real procedures and the candidate's link service, on both databases:
 * creation with its link (token and PIN shown once, stored hashed), listing, the trail of events with
 * their reasons, extension within the 8-hour limit, termination once, revoking and replacing links,
 * and the single-holder claim with its PIN and lockout.
 */
import { sha256Hex } from "@rd/auth";
import { type DbHandle, DeskLinks, Desks, sweepDeskExpiry, transitionDesk } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { DESK_LIMITS } from "@rd/protocol";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { claimLink, resolveLink } from "../services/desk-links.ts";
import { createFixture, type Fixture } from "../test-fixture.ts";

const BROWSER_1 = "browser-one-0123456789";
const BROWSER_2 = "browser-two-0123456789";

describe.each(testDatabases())("interview desks on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(() => handle?.close());

  const newDesk = (candidateLabel = "Ada Lovelace", extra: { pin?: boolean; ttlMinutes?: number } = {}) =>
    f.a.asTech.desks.create({ candidateLabel, ...extra });

  /** Moves a desk as its provider would, to `ready`. */
  async function makeReady(deskId: string) {
    for (const transition of ["provision", "ready"] as const)
      await transitionDesk(f.db, { tenantId: f.a.id, deskId, transition, actor: { type: "system" } });
  }

  const linkRow = async (linkId: string) =>
    (await f.db.select().from(DeskLinks).where(eq(DeskLinks.id, linkId)))[0]!;

  it("creates a pending desk from a template with overrides, and its link, recording who did it", async () => {
    const before = Date.now();
    const { desk, link, token, pin } = await f.a.asTech.desks.create({
      candidateLabel: "  Grace Hopper ",
      overrides: { resolution: "1920x1080", limits: { memoryMiB: 2048 } },
      ttlMinutes: 90,
    });
    expect(desk).toMatchObject({
      state: "pending",
      templateName: "interview",
      candidateLabel: "Grace Hopper",
      createdBy: f.a.tech.id,
      createdByName: "tech",
      template: {
        name: "interview",
        resolution: "1920x1080",
        limits: { memoryMiB: 2048, cpus: 1, maxProcesses: 256 },
        ttlMinutes: 90,
      },
    });
    expect(desk).not.toHaveProperty("providerRef");
    expect(desk.expiresAt.getTime() - before).toBeGreaterThanOrEqual(90 * 60_000);
    expect(token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(pin).toBeNull();
    expect(link).toMatchObject({ deskId: desk.id, pinProtected: false, held: false, revokedAt: null });
    expect(link.expiresAt).toEqual(desk.expiresAt);
    expect(link).not.toHaveProperty("tokenHash");

    const detail = await f.a.asTech.desks.byId({ id: desk.id });
    expect(detail.links.map((l) => l.id)).toEqual([link.id]);
    expect(detail.events).toMatchObject([
      {
        type: "desk_created",
        actorId: f.a.tech.id,
        data: {
          deskId: desk.id,
          linkId: link.id,
          template: "interview",
          reason: "created by tech@alpha.example",
        },
      },
    ]);
    // The candidate's name stays out of the append-only chain.
    expect(JSON.stringify(detail.events)).not.toContain("Grace");
  });

  it("stores the link's token only as its SHA-256, and its PIN only as argon2id", async () => {
    const { link, token, pin } = await newDesk("Hashed", { pin: true });
    expect(pin).toMatch(/^\d{6}$/);
    const row = await linkRow(link.id);
    expect(row.tokenHash).toBe(sha256Hex(token));
    expect(row.pinHash).toMatch(/^\$argon2id\$/);
    const stored = JSON.stringify(await f.db.select().from(DeskLinks));
    expect(stored).not.toContain(token);
    expect(row.pinHash).not.toContain(pin!);
  });

  it("refuses an unknown template or a bad override, naming the field", async () => {
    await expect(f.a.asTech.desks.create({ candidateLabel: "x", template: "nope" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      cause: {
        issues: [
          { path: ["template"], message: 'There is no desk template "nope"; choose one of: interview' },
        ],
      },
    });
    await expect(
      f.a.asTech.desks.create({ candidateLabel: "x", overrides: { limits: { memoryMiB: 100 } } }),
    ).rejects.toMatchObject({
      code: "BAD_REQUEST",
      cause: {
        issues: [{ path: ["overrides", "limits", "memoryMiB"], message: "Memory must be at least 256 MiB" }],
      },
    });
    await expect(f.a.asTech.desks.create({ candidateLabel: "x", ttlMinutes: 481 })).rejects.toMatchObject({
      cause: { issues: [{ path: ["ttlMinutes"], message: "Time to live must be at most 480 minutes" }] },
    });
  });

  it("lists newest first, by state and label, a page at a time", async () => {
    const first = await newDesk("List Alpha");
    const second = await newDesk("List Beta");
    const third = await newDesk("List Gamma");
    await f.a.asTech.desks.terminate({ id: second.desk.id });
    const all = await f.a.asTech.desks.list({ search: "list " });
    expect(all.items.map((d) => d.id)).toEqual([third.desk.id, second.desk.id, first.desk.id]);
    expect(all.total).toBe(3);
    const live = await f.a.asTech.desks.list({ search: "LIST", state: "pending" });
    expect(live.items.map((d) => d.candidateLabel)).toEqual(["List Gamma", "List Alpha"]);
    const page = await f.a.asTech.desks.list({ search: "list", limit: 1, offset: 1 });
    expect(page).toMatchObject({ total: 3, items: [{ id: second.desk.id, state: "terminated" }] });
    expect((await f.a.asTech.desks.list({ search: "%" })).total).toBe(0); // LIKE wildcards are literal
  });

  it("extends a live desk and its link, with the reason, but never beyond 8 hours from its creation", async () => {
    const { desk, link } = await newDesk("Extended", { ttlMinutes: 60 });
    const extended = await f.a.asAdmin.desks.extend({ id: desk.id, minutes: 120 });
    expect(extended.expiresAt.getTime() - desk.expiresAt.getTime()).toBe(120 * 60_000);
    expect((await linkRow(link.id)).expiresAt).toEqual(extended.expiresAt);
    await expect(f.a.asTech.desks.extend({ id: desk.id, minutes: 301 })).rejects.toMatchObject({
      code: "BAD_REQUEST",
      message: expect.stringMatching(
        /^A desk lives at most 8 hours from its creation: this one can be extended by at most 300 more minutes \(until .+\)\.$/,
      ),
    });
    const { events } = await f.a.asTech.desks.byId({ id: desk.id });
    expect(events.map((e) => e.type)).toEqual(["desk_created", "desk_extended"]);
    expect(events[1]).toMatchObject({
      actorId: f.a.admin.id,
      data: { minutes: 120, from: "pending", to: "pending", reason: "extended by admin@alpha.example" },
    });
  });

  it("warns a desk near its end, an extension brings it back, and its time running out ends it", async () => {
    const { desk, token } = await newDesk("Clock", { ttlMinutes: 30 });
    await makeReady(desk.id);
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: true, desk: { state: "active" } });
    const warnAt = new Date(desk.expiresAt.getTime() - (DESK_LIMITS.expiryWarningMinutes - 1) * 60_000);
    await sweepDeskExpiry(f.db, warnAt);
    expect((await f.a.asTech.desks.byId({ id: desk.id })).state).toBe("expiring");
    const back = await f.a.asTech.desks.extend({ id: desk.id, minutes: 15 });
    expect(back.state).toBe("active");
    await sweepDeskExpiry(f.db, new Date(back.expiresAt.getTime() + 1000));
    const over = await f.a.asTech.desks.byId({ id: desk.id });
    expect(over).toMatchObject({ state: "terminated", stateReason: "its time was up" });
    expect(over.events.map((e) => [e.type, e.data.from, e.data.to])).toEqual([
      ["desk_created", undefined, undefined],
      ["desk_provisioning", "pending", "provisioning"],
      ["desk_ready", "provisioning", "ready"],
      ["desk_link_claimed", undefined, undefined],
      ["desk_claimed", "ready", "active"],
      ["desk_expiring", "active", "expiring"],
      ["desk_extended", "expiring", "active"],
      ["desk_expired", "active", "terminated"],
    ]);
  });

  it("terminates a desk once, naming who did it; after that nothing changes it and its link is dead", async () => {
    const { desk, link, token } = await newDesk("Terminated");
    const done = await f.a.asAdmin.desks.terminate({ id: desk.id });
    expect(done).toMatchObject({ state: "terminated", stateReason: "terminated by admin@alpha.example" });
    expect(done.endedAt).toBeInstanceOf(Date);
    await expect(f.a.asTech.desks.terminate({ id: desk.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "A desk that is terminated cannot be terminated.",
    });
    await expect(f.a.asTech.desks.extend({ id: desk.id, minutes: 5 })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "A desk that is terminated cannot be extended.",
    });
    await expect(f.a.asTech.desks.links.rotate({ id: link.id })).rejects.toMatchObject({ code: "CONFLICT" });
    expect(await resolveLink(f.db, token)).toMatchObject({ ok: false, reason: "ended" });
    const { events } = await f.a.asTech.desks.byId({ id: desk.id });
    expect(events.at(-1)).toMatchObject({
      type: "desk_terminated",
      actorId: f.a.admin.id,
      data: { from: "pending", to: "terminated", reason: "terminated by admin@alpha.example" },
    });
  });

  it("revokes a link: it no longer resolves, at once, and revoking twice is refused", async () => {
    const { desk, link, token } = await newDesk("Revoked");
    expect(await resolveLink(f.db, token)).toMatchObject({
      ok: true,
      desk: { id: desk.id, tenantId: f.a.id },
    });
    const revoked = await f.a.asTech.desks.links.revoke({ id: link.id });
    expect(revoked.revokedAt).toBeInstanceOf(Date);
    expect(await resolveLink(f.db, token)).toMatchObject({ ok: false, reason: "revoked" });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: false, reason: "revoked" });
    await expect(f.a.asTech.desks.links.revoke({ id: link.id })).rejects.toMatchObject({
      code: "CONFLICT",
      message: "This link was revoked already.",
    });
    const { events } = await f.a.asTech.desks.byId({ id: desk.id });
    expect(events.at(-1)).toMatchObject({
      type: "desk_link_revoked",
      data: { linkId: link.id, reason: "revoked by tech@alpha.example" },
    });
  });

  it("rotates a link: the old token dies at once, the new one works, a PIN link gets a new PIN", async () => {
    const { desk, link, token, pin } = await newDesk("Rotated", { pin: true });
    expect(await claimLink(f.db, token, BROWSER_1, pin!)).toMatchObject({ ok: true });
    const next = await f.a.asTech.desks.links.rotate({ id: link.id });
    expect(next.token).not.toBe(token);
    expect(next.pin).toMatch(/^\d{6}$/);
    expect(next.link).toMatchObject({ pinProtected: true, held: false });
    expect(await resolveLink(f.db, token)).toMatchObject({ ok: false, reason: "revoked" });
    expect(await resolveLink(f.db, next.token)).toMatchObject({ ok: true, link: { id: next.link.id } });
    // The old holder has to come in again through the new link, with the new PIN.
    expect(await claimLink(f.db, next.token, BROWSER_1)).toMatchObject({ ok: false, reason: "pin_required" });
    expect(await claimLink(f.db, next.token, BROWSER_1, next.pin!)).toMatchObject({ ok: true });
    const detail = await f.a.asTech.desks.byId({ id: desk.id });
    expect(detail.links.map((l) => [l.id, l.revokedAt === null])).toEqual([
      [next.link.id, true],
      [link.id, false],
    ]);
    expect(detail.events.find((e) => e.type === "desk_link_rotated")).toMatchObject({
      data: { linkId: next.link.id, replaced: [link.id], reason: "replaced by tech@alpha.example" },
    });
    // Without a PIN when asked.
    const plain = await f.a.asTech.desks.links.rotate({ id: next.link.id, pin: false });
    expect(plain.pin).toBeNull();
  });

  it("lets one browser hold a link: a second is refused held_elsewhere, the holder may come back", async () => {
    const { desk, link, token } = await newDesk("Single");
    await makeReady(desk.id);
    const first = await claimLink(f.db, token, BROWSER_1);
    expect(first).toMatchObject({
      ok: true,
      takeover: false,
      desk: { state: "active" },
      link: { held: true },
    });
    expect((await linkRow(link.id)).holder).toBe(sha256Hex(BROWSER_1));
    expect(await claimLink(f.db, token, BROWSER_2)).toMatchObject({
      ok: false,
      reason: "held_elsewhere",
      message: expect.stringMatching(/open in another browser/),
    });
    // Without a PIN there is no way to take it over, not even by guessing one.
    expect(await claimLink(f.db, token, BROWSER_2, "123456")).toMatchObject({ reason: "held_elsewhere" });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: true, takeover: false });
    const { events } = await f.a.asTech.desks.byId({ id: desk.id });
    expect(events.filter((e) => e.type === "desk_link_refused")).toHaveLength(2);
    expect(events.filter((e) => e.type === "desk_link_claimed")).toHaveLength(1);
  });

  it("asks for the PIN, and moves a held link to another browser that has it (a takeover)", async () => {
    const { desk, token, pin } = await newDesk("Takeover", { pin: true });
    await makeReady(desk.id);
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: false, reason: "pin_required" });
    expect(await claimLink(f.db, token, BROWSER_1, pin!)).toMatchObject({ ok: true, takeover: false });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: true }); // the holder needs no PIN again
    expect(await claimLink(f.db, token, BROWSER_2)).toMatchObject({
      ok: false,
      reason: "held_elsewhere",
      message: "This desk is open in another browser. Enter its PIN to move it here.",
    });
    const wrong = pin === "000000" ? "000001" : "000000";
    expect(await claimLink(f.db, token, BROWSER_2, wrong)).toMatchObject({
      ok: false,
      reason: "pin_wrong",
      attemptsLeft: 4,
    });
    expect(await claimLink(f.db, token, BROWSER_2, ` ${pin!.slice(0, 3)} ${pin!.slice(3)} `)).toMatchObject({
      ok: true,
      takeover: true,
      desk: { state: "active" },
      link: { failedPinAttempts: 0 },
    });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: false, reason: "held_elsewhere" });
    const { events } = await f.a.asTech.desks.byId({ id: desk.id });
    expect(events.map((e) => e.type)).toContain("desk_link_taken_over");
    expect(events.find((e) => e.type === "desk_link_pin_failed")).toMatchObject({ data: { attempts: 1 } });
  });

  it("locks a link for 15 minutes after 5 wrong PINs, even against the right one", async () => {
    const { link, token, pin } = await newDesk("Locked", { pin: true });
    const wrong = pin === "999999" ? "999998" : "999999";
    const now = new Date();
    for (let left = 4; left >= 1; left--) {
      expect(await claimLink(f.db, token, BROWSER_1, wrong, now)).toMatchObject({
        reason: "pin_wrong",
        attemptsLeft: left,
      });
    }
    const locked = await claimLink(f.db, token, BROWSER_1, wrong, now);
    expect(locked).toMatchObject({ ok: false, reason: "locked" });
    const retryAt = (locked as { retryAt: Date }).retryAt;
    expect(retryAt.getTime() - now.getTime()).toBe(DESK_LIMITS.pinLockMinutes * 60_000);
    expect(await claimLink(f.db, token, BROWSER_1, pin!, now)).toMatchObject({ reason: "locked" });
    expect(await claimLink(f.db, token, BROWSER_2, pin!, new Date(retryAt.getTime() - 1000))).toMatchObject({
      reason: "locked",
    });
    expect((await linkRow(link.id)).lockedUntil).toEqual(retryAt);
    expect(await claimLink(f.db, token, BROWSER_1, pin!, new Date(retryAt.getTime() + 1000))).toMatchObject({
      ok: true,
    });
    expect(await linkRow(link.id)).toMatchObject({ failedPinAttempts: 0, lockedUntil: null });
  });

  it("holds a desk still being prepared, and makes it active once ready when the page claims again", async () => {
    const { desk, token } = await newDesk("Early");
    await transitionDesk(f.db, {
      tenantId: f.a.id,
      deskId: desk.id,
      transition: "provision",
      actor: { type: "system" },
    });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({
      ok: true,
      desk: { state: "provisioning" },
    });
    await transitionDesk(f.db, {
      tenantId: f.a.id,
      deskId: desk.id,
      transition: "ready",
      actor: { type: "system" },
    });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: true, desk: { state: "active" } });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: true, desk: { state: "active" } });
  });

  it("refuses an expired link and a token nobody issued", async () => {
    const { link, token } = await newDesk("Expired");
    await f.db
      .update(DeskLinks)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(DeskLinks.id, link.id));
    expect(await resolveLink(f.db, token)).toMatchObject({ ok: false, reason: "expired" });
    expect(await claimLink(f.db, token, BROWSER_1)).toMatchObject({ ok: false, reason: "expired" });
    for (const bogus of ["", "short", "x".repeat(43), "y".repeat(500)]) {
      expect(await resolveLink(f.db, bogus)).toMatchObject({
        ok: false,
        reason: "unknown",
        message: expect.stringMatching(/not valid/),
      });
    }
  });

  it("keeps the tenant's audit chain whole through every desk change", async () => {
    expect(await f.db.select().from(Desks).where(eq(Desks.tenantId, f.b.id))).toEqual([]);
    expect((await f.a.asAdmin.events.verify()).ok).toBe(true);
  });
});
