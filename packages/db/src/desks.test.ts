import { DESK_LIMITS, DESK_STATES } from "@rd/protocol";
import { parseDeskTemplate } from "@rd/protocol";
import { and, eq, sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyChain } from "./audit.ts";
import type { DbHandle } from "./client.ts";
import type { ControlNotice } from "./control-feed.ts";
import {
  DeskExtendRefused,
  DeskNotFound,
  extendDesk,
  IllegalDeskTransition,
  sweepDeskExpiry,
  transitionDesk,
} from "./desks.ts";
import { deskState, Desks, SessionEvents, Tenants, Users } from "./schema.ts";
import { collectControlNotices, testDatabases } from "./testing.ts";

describe.each(testDatabases())("desks on $name", (backend) => {
  let handle: DbHandle;
  let tenantId: string;
  let otherTenant: string;
  let userId: string;
  let notices: ControlNotice[] = [];
  let unlisten: () => Promise<void>;

  beforeAll(async () => {
    handle = await backend.create();
    const [tenant, other] = await handle.db
      .insert(Tenants)
      .values([{ name: "Acme" }, { name: "Other" }])
      .returning();
    tenantId = tenant!.id;
    otherTenant = other!.id;
    const [user] = await handle.db
      .insert(Users)
      .values({ tenantId, email: "iv@acme.example", name: "iv", role: "technician", passwordHash: "x" })
      .returning();
    userId = user!.id;
    ({ notices, stop: unlisten } = await collectControlNotices(handle));
  });
  afterAll(async () => {
    await unlisten?.();
    await handle?.close();
  });

  async function newDesk(minutes = 60, createdAt = new Date()) {
    const [desk] = await handle.db
      .insert(Desks)
      .values({
        tenantId,
        templateName: "interview",
        template: parseDeskTemplate({ name: "interview" }),
        candidateLabel: "Ada",
        createdBy: userId,
        createdAt,
        expiresAt: new Date(createdAt.getTime() + minutes * 60_000),
      })
      .returning();
    return desk!;
  }

  const eventsOf = (deskId: string) =>
    handle.db
      .select()
      .from(SessionEvents)
      .where(and(eq(SessionEvents.tenantId, tenantId), sql`${SessionEvents.data}->>'deskId' = ${deskId}`))
      .orderBy(SessionEvents.seq);

  it("has the protocol's states in its enum, in the same order", () => {
    expect(deskState.enumValues).toEqual([...DESK_STATES]);
  });

  it("moves a desk through the table with its event and notice, and records the provider's handle", async () => {
    const desk = await newDesk();
    const provider = { type: "system" as const };
    const provisioning = await transitionDesk(handle.db, {
      tenantId,
      deskId: desk.id,
      transition: "provision",
      actor: provider,
      providerRef: "sandbox-7",
    });
    expect(provisioning).toMatchObject({ state: "provisioning", providerRef: "sandbox-7", endedAt: null });
    const failed = await transitionDesk(handle.db, {
      tenantId,
      deskId: desk.id,
      transition: "fail",
      actor: provider,
      reason: "Xvfb did not start",
    });
    expect(failed).toMatchObject({ state: "error", stateReason: "Xvfb did not start" });
    expect(failed.endedAt).toBeInstanceOf(Date);
    expect((await eventsOf(desk.id)).map((e) => [e.type, e.data.from, e.data.to])).toEqual([
      ["desk_provisioning", "pending", "provisioning"],
      ["desk_failed", "provisioning", "error"],
    ]);
    await expect.poll(() => notices.filter((n) => n.kind === "desk" && n.deskId === desk.id).length).toBe(2);
  });

  it("refuses an illegal transition with a typed error and changes nothing", async () => {
    const desk = await newDesk();
    await expect(
      transitionDesk(handle.db, {
        tenantId,
        deskId: desk.id,
        transition: "claim",
        actor: { type: "system" },
      }),
    ).rejects.toThrow(IllegalDeskTransition);
    const [after] = await handle.db.select().from(Desks).where(eq(Desks.id, desk.id));
    expect(after!.state).toBe("pending");
    expect(await eventsOf(desk.id)).toEqual([]);
  });

  it("does not find a desk through another tenant", async () => {
    const desk = await newDesk();
    await expect(
      transitionDesk(handle.db, {
        tenantId: otherTenant,
        deskId: desk.id,
        transition: "terminate",
        actor: { type: "system" },
      }),
    ).rejects.toThrow(DeskNotFound);
  });

  it("warns an active desk near its end, and expires every live desk whose time is up", async () => {
    const now = new Date();
    const nearing = await newDesk(DESK_LIMITS.expiryWarningMinutes - 1, now);
    for (const transition of ["provision", "ready", "claim"] as const)
      await transitionDesk(handle.db, {
        tenantId,
        deskId: nearing.id,
        transition,
        actor: { type: "system" },
      });
    const waiting = await newDesk(DESK_LIMITS.expiryWarningMinutes - 1, now); // pending: no one to warn
    const over = await newDesk(10, new Date(now.getTime() - 11 * 60_000));
    const result = await sweepDeskExpiry(handle.db, now);
    expect(result.warned).toBeGreaterThanOrEqual(1);
    expect(result.expired).toBeGreaterThanOrEqual(1);
    const state = async (id: string) => (await handle.db.select().from(Desks).where(eq(Desks.id, id)))[0]!;
    expect(await state(nearing.id)).toMatchObject({ state: "expiring" });
    expect(await state(waiting.id)).toMatchObject({ state: "pending" });
    expect(await state(over.id)).toMatchObject({ state: "terminated", stateReason: "its time was up" });
    // Swept again, nothing changes twice.
    const later = await sweepDeskExpiry(handle.db, now);
    expect(later).toEqual({ warned: 0, expired: 0 });
  });

  it("extends within the 8-hour limit and takes a warned desk back to active", async () => {
    const desk = await newDesk(4);
    for (const transition of ["provision", "ready", "claim", "warn"] as const)
      await transitionDesk(handle.db, { tenantId, deskId: desk.id, transition, actor: { type: "system" } });
    const extended = await extendDesk(handle.db, {
      tenantId,
      deskId: desk.id,
      minutes: 30,
      actor: { type: "user", id: userId },
      reason: "extended by iv@acme.example",
    });
    expect(extended.state).toBe("active");
    expect(extended.expiresAt.getTime() - desk.expiresAt.getTime()).toBe(30 * 60_000);
    await expect(
      extendDesk(handle.db, {
        tenantId,
        deskId: desk.id,
        minutes: DESK_LIMITS.maxLifetimeMinutes,
        actor: { type: "user", id: userId },
        reason: "x",
      }),
    ).rejects.toThrow(DeskExtendRefused);
    expect((await verifyChain(handle.db, tenantId)).ok).toBe(true);
  });
});
