/**
 * Enrollment (design flow 1): an admin creates a short-lived, single-use code; an agent trades it
 * for an id and a secret. Only hashes of the code and the secret are stored.
 */
import { generateEnrollmentCode, generateToken, normalizeEnrollmentCode, sha256Hex } from "@rd/auth";
import { Agents, appendEvent, type Database, EnrollmentCodes } from "@rd/db";
import { and, eq, gt, isNull } from "drizzle-orm";

export async function createEnrollmentCode(
  db: Database,
  input: { tenantId: string; createdBy: string; label?: string | undefined; expiresInMinutes: number },
): Promise<{ code: string; expiresAt: Date }> {
  const code = generateEnrollmentCode();
  const expiresAt = new Date(Date.now() + input.expiresInMinutes * 60_000);
  await db.transaction(async (tx) => {
    const [row] = await tx
      .insert(EnrollmentCodes)
      .values({
        tenantId: input.tenantId,
        codeHash: sha256Hex(normalizeEnrollmentCode(code)),
        label: input.label ?? null,
        createdBy: input.createdBy,
        expiresAt,
      })
      .returning({ id: EnrollmentCodes.id });
    await appendEvent(tx, {
      tenantId: input.tenantId,
      type: "enrollment_code_created",
      actor: { type: "user", id: input.createdBy },
      data: { codeId: row!.id, label: input.label ?? null, expiresAt: expiresAt.toISOString() },
    });
  });
  return { code, expiresAt };
}

export interface AgentInfo {
  name: string;
  hostname: string;
  os: string;
  version: string;
}

export type EnrollResult =
  | { ok: true; agentId: string; tenantId: string; secret: string }
  | { ok: false; message: string; reason: "unknown" | "used" | "expired" };

/**
 * Trades a valid code for a new agent and its credential; a code works once, before it expires.
 * A refused code that exists (used, expired) is an `enrollment_refused` event in its tenant's trail,
 * with the caller's address: someone has a code they should not be using.
 */
export async function enrollAgent(
  db: Database,
  code: string,
  info: AgentInfo,
  from: { ip?: string } = {},
): Promise<EnrollResult> {
  const result = await claimAndEnroll(db, code, info);
  if (result.ok) return result;
  const [known] = await db
    .select({ id: EnrollmentCodes.id, tenantId: EnrollmentCodes.tenantId, usedAt: EnrollmentCodes.usedAt })
    .from(EnrollmentCodes)
    .where(eq(EnrollmentCodes.codeHash, sha256Hex(normalizeEnrollmentCode(code))));
  if (!known) return result;
  const reason = known.usedAt ? "used" : "expired";
  await appendEvent(db, {
    tenantId: known.tenantId,
    type: "enrollment_refused",
    actor: { type: "system" },
    data: { codeId: known.id, reason, ip: from.ip ?? null, hostname: info.hostname },
  });
  return { ...result, reason };
}

async function claimAndEnroll(db: Database, code: string, info: AgentInfo): Promise<EnrollResult> {
  const secret = generateToken();
  return db.transaction(async (tx) => {
    // Claiming the code and using it in one UPDATE makes a second, concurrent use find nothing.
    const [claimed] = await tx
      .update(EnrollmentCodes)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(EnrollmentCodes.codeHash, sha256Hex(normalizeEnrollmentCode(code))),
          isNull(EnrollmentCodes.usedAt),
          gt(EnrollmentCodes.expiresAt, new Date()),
        ),
      )
      .returning();
    if (!claimed) {
      return {
        ok: false,
        reason: "unknown",
        message:
          "This enrollment code is not valid: it may be mistyped, used already, or expired. Create a new one in the dashboard.",
      };
    }
    const [agent] = await tx
      .insert(Agents)
      .values({ tenantId: claimed.tenantId, ...info, credentialHash: sha256Hex(secret) })
      .returning({ id: Agents.id });
    await tx.update(EnrollmentCodes).set({ agentId: agent!.id }).where(eq(EnrollmentCodes.id, claimed.id));
    await appendEvent(tx, {
      tenantId: claimed.tenantId,
      type: "agent_enrolled",
      actor: { type: "agent", id: agent!.id },
      agentId: agent!.id,
      data: { ...info, codeId: claimed.id },
    });
    return { ok: true, agentId: agent!.id, tenantId: claimed.tenantId, secret };
  });
}
