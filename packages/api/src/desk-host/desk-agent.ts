/**
 * A desk's agent: the trusted process beside the desk's sandbox that streams its display and injects
 * input, the same agent CLI as on an enrolled machine. The desk host registers it directly (it is
 * the server; no enrollment code travels), with a fresh 256-bit secret of which only the hash is
 * stored, writes its credential where only this user can read it, and removes it with the desk.
 */
import { chmod, mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { generateToken, sha256Hex } from "@rd/auth";
import { Agents, appendEvent, type Database, type Desk, notifyControl } from "@rd/db";
import { and, eq, isNull } from "drizzle-orm";

/** How a desk's agent is named in sessions and the audit trail. */
export const deskAgentName = (candidateLabel: string) =>
  candidateLabel ? `Desk: ${candidateLabel}`.slice(0, 100) : "Desk (warm pool)";

export interface DeskAgentPlaces {
  /** The dashboard, for the credential file (the agent's `server`). */
  serverUrl: string;
  /** The signaling worker's WebSocket URL the agent connects to. */
  signalUrl: string;
  /** The agent's own config directory (its credential); created 0700. */
  configDir: string;
}

/**
 * Registers the desk's agent and writes its credential into `configDir`. The agent takes the
 * template's clipboard policy, and "unattended" consent: nobody sits at a desk but the candidate,
 * who is a viewer.
 */
export async function registerDeskAgent(
  db: Database,
  desk: Pick<Desk, "id" | "tenantId" | "candidateLabel" | "template">,
  places: DeskAgentPlaces,
): Promise<string> {
  const secret = generateToken();
  const name = deskAgentName(desk.candidateLabel);
  const agentId = await db.transaction(async (tx) => {
    const [agent] = await tx
      .insert(Agents)
      .values({
        tenantId: desk.tenantId,
        name,
        hostname: `desk-${desk.id.slice(0, 8)}`,
        os: "linux (desk sandbox)",
        version: "desk",
        credentialHash: sha256Hex(secret),
        consentPolicy: "unattended",
        clipboardPolicy: desk.template.clipboard,
        recordingPolicy: desk.template.recording ?? "choice",
        deskId: desk.id,
      })
      .returning({ id: Agents.id });
    await appendEvent(tx, {
      tenantId: desk.tenantId,
      type: "agent_enrolled",
      actor: { type: "system" },
      agentId: agent!.id,
      data: { deskId: desk.id, name, by: "desk host" },
    });
    return agent!.id;
  });
  await mkdir(places.configDir, { recursive: true, mode: 0o700 });
  await chmod(places.configDir, 0o700);
  const file = path.join(places.configDir, "credential.json");
  const credential = {
    server: places.serverUrl,
    agentId,
    secret,
    signalUrl: places.signalUrl,
    name,
    enrolledAt: new Date().toISOString(),
  };
  await writeFile(file, JSON.stringify(credential, null, 2), { mode: 0o600 });
  return agentId;
}

/** Removes the desk's agent (its credential stops working at once) and its config directory. */
export async function removeDeskAgent(db: Database, deskId: string, configDir: string): Promise<void> {
  await db.transaction(async (tx) => {
    const removed = await tx
      .update(Agents)
      .set({ removedAt: new Date(), status: "offline" })
      .where(and(eq(Agents.deskId, deskId), isNull(Agents.removedAt)))
      .returning({ id: Agents.id });
    // Every worker drops its connection and forgets its cached credential.
    for (const { id } of removed) await notifyControl(tx, { kind: "agent-revoked", agentId: id });
  });
  await rm(configDir, { recursive: true, force: true });
}
