/**
 * The candidate's way onto a desk, on both databases: a desk still starting says so; a running one
 * opens one session on the desk's agent with the candidate in control and a candidate ticket; a
 * reload finds the same place; the warm pool hands a ready desk to the next create; revoking the
 * link takes the candidate out; ending the desk ends its session, whoever ends it.
 */
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { verifyTicket } from "@rd/auth/tickets";
import {
  Agents,
  type DbHandle,
  Desks,
  RemoteSessions,
  SessionParticipants,
  sweepDeskExpiry,
  transitionDesk,
} from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { builtInDeskTemplate } from "@rd/protocol";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerDeskAgent, removeDeskAgent } from "../desk-host/desk-agent.ts";
import { createFixture, type Fixture } from "../test-fixture.ts";
import { enterDesk } from "./candidate-session.ts";

const BROWSER = "candidate-browser-0123456789";

describe.each(testDatabases())("a candidate entering a desk on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;
  let scratch: string;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
    scratch = await mkdtemp(path.join(tmpdir(), "rd-candidate-"));
  });
  afterAll(async () => {
    await handle?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  /** What the desk host does: provision, register the agent, ready. */
  async function runDesk(deskId: string) {
    const [desk] = await f.db.select().from(Desks).where(eq(Desks.id, deskId));
    await transitionDesk(f.db, {
      tenantId: f.a.id,
      deskId,
      transition: "provision",
      actor: { type: "system" },
    });
    const agentId = await registerDeskAgent(f.db, desk!, {
      serverUrl: "http://127.0.0.1:1",
      signalUrl: "ws://127.0.0.1:2/ws",
      configDir: path.join(scratch, deskId),
    });
    await transitionDesk(f.db, { tenantId: f.a.id, deskId, transition: "ready", actor: { type: "system" } });
    return agentId;
  }

  const enter = (token: string, holderId = BROWSER) => enterDesk(f.db, f.ticketKey, { token, holderId });

  it("says a desk is being prepared, then puts the candidate in its session, in control", async () => {
    const { desk, token } = await f.a.asTech.desks.create({ candidateLabel: "Ada" });
    expect(await enter(token)).toMatchObject({ ok: true, ready: false, desk: { state: "pending" } });

    const agentId = await runDesk(desk.id);
    const entered = await enter(token);
    if (!entered.ok || !entered.ready) throw new Error(`not entered: ${JSON.stringify(entered)}`);
    expect(entered.desk.state).toBe("active");
    const [session] = await f.db
      .select()
      .from(RemoteSessions)
      .where(eq(RemoteSessions.id, entered.sessionId));
    expect(session).toMatchObject({ agentId, deskId: desk.id, technicianId: f.a.tech.id, status: "pending" });
    expect(session!.controllerId).toBe(entered.participantId);
    const [participant] = await f.db
      .select()
      .from(SessionParticipants)
      .where(eq(SessionParticipants.id, entered.participantId));
    expect(participant).toMatchObject({ kind: "candidate", userId: null, deskLinkId: entered.link.id });
    expect(participant!.admittedAt).not.toBeNull();
    const checked = await verifyTicket(f.ticketKey, entered.ticket);
    expect(checked).toMatchObject({
      ok: true,
      claims: { role: "candidate", uid: entered.link.id, pid: entered.participantId, name: "Ada" },
    });

    // A reload (or a signaling reconnect) finds the same session and place, with a fresh ticket.
    const again = await enter(token);
    expect(again).toMatchObject({
      ready: true,
      sessionId: entered.sessionId,
      participantId: entered.participantId,
    });
    // Another browser without the link's PIN is refused and enters nothing.
    expect(await enter(token, "another-browser-0123456789")).toMatchObject({
      ok: false,
      reason: "held_elsewhere",
    });

    // The desk agent's credential file is its owner's alone.
    expect((await stat(path.join(scratch, desk.id, "credential.json"))).mode & 0o777).toBe(0o600);
  });

  it("takes the candidate out when their link is revoked, and refuses the link after", async () => {
    const { desk, token, link } = await f.a.asTech.desks.create({ candidateLabel: "Grace" });
    await runDesk(desk.id);
    const entered = await enter(token);
    if (!entered.ok || !entered.ready) throw new Error("not entered");
    await f.a.asTech.desks.links.revoke({ id: link.id });
    const [participant] = await f.db
      .select()
      .from(SessionParticipants)
      .where(eq(SessionParticipants.id, entered.participantId));
    expect(participant).toMatchObject({ leftReason: "link_revoked" });
    expect(participant!.leftAt).not.toBeNull();
    // Nobody else could drive: the session ended with its candidate.
    const [session] = await f.db
      .select()
      .from(RemoteSessions)
      .where(eq(RemoteSessions.id, entered.sessionId));
    expect(session).toMatchObject({ status: "ended", endReason: "link_revoked" });
    // The session's page names the candidate, whose participant has no account and so no name.
    const detail = await f.a.asTech.sessions.byId({ id: entered.sessionId });
    expect(detail).toMatchObject({ deskId: desk.id, candidateName: "Grace", technicianId: f.a.tech.id });
    expect(detail.participants).toMatchObject([
      { kind: "candidate", name: null, leftReason: "link_revoked" },
    ]);
    // Another tenant's session list does not show it.
    expect((await f.b.asTech.sessions.list({})).items.map((s) => s.id)).not.toContain(entered.sessionId);
    expect(await enter(token)).toMatchObject({ ok: false, reason: "revoked" });
    // A new link lets them back onto the same desk, in a new session.
    const rotated = await f.a.asTech.desks.links.rotate({ id: link.id });
    const back = await enter(rotated.token);
    expect(back).toMatchObject({ ok: true, ready: true });
    expect(back.ok && back.ready && back.sessionId).not.toBe(entered.sessionId);
  });

  it("ends the desk's session when the desk ends: terminated, or its time up", async () => {
    for (const end of ["terminate", "expire"] as const) {
      const { desk, token } = await f.a.asTech.desks.create({ candidateLabel: `End ${end}` });
      await runDesk(desk.id);
      const entered = await enter(token);
      if (!entered.ok || !entered.ready) throw new Error("not entered");
      if (end === "terminate") await f.a.asAdmin.desks.terminate({ id: desk.id });
      else await sweepDeskExpiry(f.db, new Date(Date.now() + 61 * 60_000));
      const [session] = await f.db
        .select()
        .from(RemoteSessions)
        .where(eq(RemoteSessions.id, entered.sessionId));
      expect(session).toMatchObject({ status: "ended", endReason: "desk_ended" });
      expect(await enter(token)).toMatchObject({ ok: false, reason: "ended" });
      await removeDeskAgent(f.db, desk.id, path.join(scratch, desk.id));
    }
  });

  it("hands a warm desk of the pool to the next create with the same sandbox, and lists none of them", async () => {
    const template = builtInDeskTemplate("interview")!;
    const [warm] = await f.db
      .insert(Desks)
      .values({
        tenantId: f.a.id,
        templateName: "interview",
        template,
        candidateLabel: "",
        createdBy: null,
        pooled: true,
        expiresAt: new Date(Date.now() + 8 * 3600_000),
      })
      .returning();
    const agentId = await runDesk(warm!.id);
    expect((await f.a.asTech.desks.list({})).warm).toBe(1);
    expect((await f.a.asTech.desks.list({})).items.some((d) => d.id === warm!.id)).toBe(false);
    await expect(f.a.asTech.desks.byId({ id: warm!.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    // Another tenant's interviewer never gets it.
    const theirs = await f.b.asTech.desks.create({ candidateLabel: "Not yours" });
    expect(theirs.desk.id).not.toBe(warm!.id);

    const { desk } = await f.a.asTech.desks.create({ candidateLabel: "Katherine", ttlMinutes: 30 });
    expect(desk).toMatchObject({
      id: warm!.id,
      state: "ready",
      candidateLabel: "Katherine",
      createdBy: f.a.tech.id,
    });
    expect(desk.expiresAt.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    expect(desk.expiresAt.getTime() - Date.now()).toBeLessThanOrEqual(30 * 60_000);
    const events = (await f.a.asTech.desks.byId({ id: desk.id })).events;
    expect(events.find((e) => e.type === "desk_created" && e.data.fromWarmPool)).toBeDefined();
    expect((await f.a.asTech.desks.list({})).warm).toBe(0);
    const [agent] = await f.db.select().from(Agents).where(eq(Agents.id, agentId));
    expect(agent).toMatchObject({ name: "Desk: Katherine", clipboardPolicy: template.clipboard });
    // With no warm desk left, the next desk starts cold.
    const other = await f.a.asTech.desks.create({
      candidateLabel: "Dorothy",
      overrides: { resolution: "1920x1080" },
    });
    expect(other.desk.state).toBe("pending");
  });
});
