/**
 * Email + password sign-in. Failures say no more than needed: unknown account and wrong password
 * read the same and take the same time; a deactivated account is only named to someone who knew its
 * password.
 *
 * Guessing is throttled per (account, client) pair, progressively, and per client address with a
 * budget across accounts. Both count an attempt as it starts, before any await, so parallel attempts
 * cannot slip past the check. There is no per-account lock: a stranger failing on purpose from their
 * own address slows only themselves, never the account's owner.
 *
 * Every failure and every trip of a limit is reported (for the log) and, when the account exists,
 * written to its tenant's audit trail.
 */
import { appendEvent, type Database, emailKey, type UserRole, Users } from "@rd/db";
import { eq } from "drizzle-orm";
import { AttemptLimiter } from "./attempt-limiter.ts";
import { clientKey } from "./client-key.ts";
import { dummyPasswordHash, verifyPassword } from "./password.ts";
import { ProgressiveThrottle } from "./progressive-throttle.ts";

export type SignInResult =
  | {
      ok: true;
      userId: string;
      tenantId: string;
      role: UserRole;
      secondFactor: boolean;
      mustChangePassword: boolean;
    }
  | { ok: false; reason: "invalid" | "disabled" | "rate_limited"; message: string };

/** What the caller logs: never the password, never a token. */
export interface SecurityReport {
  type: "auth_failed" | "auth_throttled";
  ip: string;
  email: string;
  reason: string;
}

const MINUTE = 60_000;

/**
 * Three free tries for typos, then 2 s, 4 s, 8 s… up to 15 minutes between attempts for that pair.
 * The client budget is wider because an office shares one address; 30 per 15 minutes is still far
 * too few to guess a password of the required length.
 */
export function createSignInLimits(now: () => number = Date.now) {
  return {
    perPair: new ProgressiveThrottle({
      freeFailures: 3,
      baseDelayMs: 2_000,
      maxDelayMs: 15 * MINUTE,
      forgetAfterMs: 60 * MINUTE,
      now,
    }),
    perClient: new AttemptLimiter({ maxFailures: 30, windowMs: 15 * MINUTE, now }),
    /** Second-factor codes, per user: 10^6 codes, so a few tries and then a growing wait. */
    secondFactor: new ProgressiveThrottle({
      freeFailures: 3,
      baseDelayMs: 5_000,
      maxDelayMs: 15 * MINUTE,
      forgetAfterMs: 60 * MINUTE,
      now,
    }),
  };
}
export type SignInLimits = ReturnType<typeof createSignInLimits>;

export function waitMessage(waitMs: number, what = "failed sign-in attempts"): string {
  if (waitMs < MINUTE) {
    const seconds = Math.max(1, Math.ceil(waitMs / 1000));
    return `Too many ${what}. Try again in ${seconds} second${seconds === 1 ? "" : "s"}.`;
  }
  const minutes = Math.ceil(waitMs / MINUTE);
  return `Too many ${what}. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`;
}

export async function signIn(
  db: Database,
  limits: SignInLimits,
  input: { email: string; password: string; ip: string },
  report: (event: SecurityReport) => void = () => {},
): Promise<SignInResult> {
  const email = emailKey(input.email);
  const client = clientKey(input.ip);
  const pair = `${email}\n${client}`;

  // Both limits are consumed here, synchronously: no await before this point.
  const clientWait = limits.perClient.tryConsume(client);
  const pairVerdict = clientWait > 0 ? null : limits.perPair.tryConsume(pair);
  if (clientWait > 0 || (pairVerdict && !pairVerdict.allowed)) {
    const waitMs =
      clientWait > 0 ? clientWait : pairVerdict && !pairVerdict.allowed ? pairVerdict.retryAfterMs : 0;
    // One report per block, not one per refused attempt: a flood must not become a flood of events.
    const firstRefusal = pairVerdict && !pairVerdict.allowed ? pairVerdict.firstRefusal : false;
    if (firstRefusal) {
      const reason = "too many failures for this account from this address";
      report({ type: "auth_throttled", ip: input.ip, email, reason });
      await auditForAccount(db, email, "auth_throttled", { ip: input.ip, reason, retryAfterMs: waitMs });
    }
    return { ok: false, reason: "rate_limited", message: waitMessage(waitMs) };
  }
  const clientBudgetSpent = limits.perClient.retryAfterMs(client) > 0;

  const [user] = await db.select().from(Users).where(eq(Users.email, email)).limit(1);
  const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), input.password);
  if (!user || !passwordOk) {
    const reason = user ? "wrong password" : "unknown account";
    report({ type: "auth_failed", ip: input.ip, email, reason });
    if (user) {
      await appendEvent(db, {
        tenantId: user.tenantId,
        type: "auth_failed",
        actor: { type: "system" },
        data: { ip: input.ip, userId: user.id, reason },
      });
    }
    if (clientBudgetSpent) {
      const why = "too many failed sign-ins from this address";
      report({ type: "auth_throttled", ip: input.ip, email, reason: why });
      if (user) await auditForAccount(db, email, "auth_throttled", { ip: input.ip, reason: why });
    }
    return { ok: false, reason: "invalid", message: "Wrong email or password." };
  }
  // The right password: this attempt does not count against the pair or the address.
  limits.perPair.forgive(pair);
  limits.perClient.forgive(client);
  if (user.disabledAt) {
    report({ type: "auth_failed", ip: input.ip, email, reason: "deactivated" });
    await appendEvent(db, {
      tenantId: user.tenantId,
      type: "auth_failed",
      actor: { type: "system" },
      data: { ip: input.ip, userId: user.id, reason: "deactivated" },
    });
    return {
      ok: false,
      reason: "disabled",
      message: "This account has been deactivated. Ask an administrator to reactivate it.",
    };
  }
  return {
    ok: true,
    userId: user.id,
    tenantId: user.tenantId,
    role: user.role,
    secondFactor: user.totpEnabledAt !== null,
    mustChangePassword: user.mustChangePassword,
  };
}

async function auditForAccount(
  db: Database,
  email: string,
  type: "auth_throttled",
  data: Record<string, unknown>,
) {
  const [user] = await db
    .select({ id: Users.id, tenantId: Users.tenantId })
    .from(Users)
    .where(eq(Users.email, email));
  if (!user) return;
  await appendEvent(db, {
    tenantId: user.tenantId,
    type,
    actor: { type: "system" },
    data: { ...data, userId: user.id },
  });
}
