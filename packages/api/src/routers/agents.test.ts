import type { DbHandle } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFixture, type Fixture } from "../test-fixture.ts";

describe.each(testDatabases())("agents.setConsentPolicy on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(() => handle?.close());

  it("lets an admin change the policy and records who changed it from what to what", async () => {
    const updated = await f.a.asAdmin.agents.setConsentPolicy({ id: f.a.onlineAgent, policy: "unattended" });
    expect(updated).toMatchObject({ id: f.a.onlineAgent, consentPolicy: "unattended" });
    expect(updated).not.toHaveProperty("credentialHash");
    expect(await f.a.asTech.agents.byId({ id: f.a.onlineAgent })).toMatchObject({
      consentPolicy: "unattended",
    });
    const events = await f.a.asAdmin.events.byAgent({ agentId: f.a.onlineAgent });
    expect(events.items[0]).toMatchObject({
      type: "agent_consent_policy_changed",
      actorType: "user",
      actorId: f.a.admin.id,
      data: { from: "prompt", to: "unattended" },
    });
    expect((await f.a.asAdmin.events.verify()).ok).toBe(true);
  });

  it("records nothing when the policy is set to the one the agent already has", async () => {
    await f.a.asAdmin.agents.setConsentPolicy({ id: f.a.offlineAgent, policy: "notify" });
    const before = await f.a.asAdmin.events.byAgent({ agentId: f.a.offlineAgent });
    await f.a.asAdmin.agents.setConsentPolicy({ id: f.a.offlineAgent, policy: "notify" });
    const after = await f.a.asAdmin.events.byAgent({ agentId: f.a.offlineAgent });
    expect(after.items.map((e) => e.id)).toEqual(before.items.map((e) => e.id));
  });

  it("refuses technicians", async () => {
    await expect(
      f.a.asTech.agents.setConsentPolicy({ id: f.a.onlineAgent, policy: "prompt" }),
    ).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("refuses a policy that does not exist", async () => {
    await expect(
      f.a.asAdmin.agents.setConsentPolicy({ id: f.a.onlineAgent, policy: "never" as "prompt" }),
    ).rejects.toMatchObject({ code: "BAD_REQUEST" });
  });

  it("cannot touch another tenant's agent, and leaves it and its chain as they were", async () => {
    const chainBefore = await f.b.asAdmin.events.verify();
    await expect(
      f.a.asAdmin.agents.setConsentPolicy({ id: f.b.onlineAgent, policy: "unattended" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
    expect(await f.b.asTech.agents.byId({ id: f.b.onlineAgent })).toMatchObject({ consentPolicy: "prompt" });
    expect(await f.b.asAdmin.events.verify()).toEqual(chainBefore);
  });

  it("cannot change a removed agent", async () => {
    await f.b.asAdmin.agents.remove({ id: f.b.offlineAgent });
    await expect(
      f.b.asAdmin.agents.setConsentPolicy({ id: f.b.offlineAgent, policy: "notify" }),
    ).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
