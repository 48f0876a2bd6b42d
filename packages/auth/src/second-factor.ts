/**
 * The second step of sign-in for a user with two-factor sign-in on: a code from their authenticator
 * app, or one of their recovery codes. Each code is good once: a TOTP step is claimed with a
 * conditional update (two parallel requests with the same code cannot both win), a recovery code by
 * marking it used. Tries are throttled per user, counted before any await.
 */
import { appendEvent, type Database, RecoveryCodes, Users } from "@rd/db";
import { and, eq, isNull, lt, or } from "drizzle-orm";
import type { SecretBox } from "./secret-box.ts";
import { waitMessage, type SecurityReport, type SignInLimits } from "./sign-in.ts";
import { hashRecoveryCode, TOTP_DIGITS, verifyTotp } from "./totp.ts";

export type SecondFactorResult =
  | { ok: true; usedRecoveryCode: boolean }
  | { ok: false; reason: "invalid" | "rate_limited"; message: string };

/** What the TOTP secret is sealed with: the user's id, so a sealed secret cannot move to another row. */
export const totpAad = (userId: string) => `totp:${userId}`;

export async function verifySecondFactor(
  db: Database,
  box: SecretBox,
  limits: SignInLimits,
  input: { userId: string; code: string; ip: string },
  report: (event: SecurityReport) => void = () => {},
): Promise<SecondFactorResult> {
  const key = input.userId;
  const verdict = limits.secondFactor.tryConsume(key);
  const [user] =
    verdict.allowed || verdict.firstRefusal
      ? await db
          .select({
            tenantId: Users.tenantId,
            email: Users.email,
            secret: Users.totpSecret,
            enabled: Users.totpEnabledAt,
            lastStep: Users.totpLastStep,
          })
          .from(Users)
          .where(eq(Users.id, input.userId))
      : [];
  if (!verdict.allowed) {
    if (user) {
      const reason = "too many wrong two-factor codes";
      report({ type: "auth_throttled", ip: input.ip, email: user.email, reason });
      await audit(db, user.tenantId, "auth_throttled", { ip: input.ip, userId: input.userId, reason });
    }
    return { ok: false, reason: "rate_limited", message: waitMessage(verdict.retryAfterMs, "wrong codes") };
  }
  if (!user?.secret || !user.enabled) {
    return { ok: false, reason: "invalid", message: "Two-factor sign-in is not on for this account." };
  }

  const code = input.code.trim();
  const looksLikeTotp = new RegExp(`^[0-9\\s-]{${TOTP_DIGITS},${TOTP_DIGITS + 4}}$`).test(code);
  let ok = false;
  let usedRecoveryCode = false;
  if (looksLikeTotp) {
    const secret = await box.open(user.secret, totpAad(input.userId));
    const check = verifyTotp(secret, code, { lastUsedStep: user.lastStep });
    // Claim the step: only one request can move it forward, so a code is accepted once.
    ok =
      check.ok &&
      (
        await db
          .update(Users)
          .set({ totpLastStep: check.step })
          .where(
            and(
              eq(Users.id, input.userId),
              or(isNull(Users.totpLastStep), lt(Users.totpLastStep, check.step)),
            ),
          )
          .returning({ id: Users.id })
      ).length === 1;
  } else if (code.length <= 64) {
    const used = await db
      .update(RecoveryCodes)
      .set({ usedAt: new Date() })
      .where(
        and(
          eq(RecoveryCodes.userId, input.userId),
          eq(RecoveryCodes.codeHash, hashRecoveryCode(code)),
          isNull(RecoveryCodes.usedAt),
        ),
      )
      .returning({ id: RecoveryCodes.id });
    ok = usedRecoveryCode = used.length === 1;
  }

  if (!ok) {
    const reason = "wrong or reused two-factor code";
    report({ type: "auth_failed", ip: input.ip, email: user.email, reason });
    await audit(db, user.tenantId, "auth_failed", { ip: input.ip, userId: input.userId, reason });
    return {
      ok: false,
      reason: "invalid",
      message: "That code is not right, or it was used already. Enter the current code from your app.",
    };
  }
  limits.secondFactor.forgive(key);
  if (usedRecoveryCode) {
    await audit(db, user.tenantId, "recovery_code_used", { ip: input.ip, userId: input.userId });
  }
  return { ok: true, usedRecoveryCode };
}

/** A finished sign-in (password, and the second factor when on): when, and from where. */
export async function recordSignIn(db: Database, user: { id: string; tenantId: string }, ip: string) {
  await db.update(Users).set({ lastLoginAt: new Date() }).where(eq(Users.id, user.id));
  await appendEvent(db, {
    tenantId: user.tenantId,
    type: "user_signed_in",
    actor: { type: "user", id: user.id },
    data: { ip },
  });
}

function audit(db: Database, tenantId: string, type: string, data: Record<string, unknown>) {
  return appendEvent(db, { tenantId, type, actor: { type: "system" }, data });
}
