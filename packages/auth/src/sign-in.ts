/**
 * Email + password sign-in. Failures say no more than needed: unknown account and wrong password
 * read the same and take the same time; a deactivated account is only named to someone who knew its
 * password. Failed attempts are limited per account and per client IP.
 */
import { type Database, emailKey, Users } from "@rd/db";
import { eq } from "drizzle-orm";
import { AttemptLimiter } from "./attempt-limiter.ts";
import { dummyPasswordHash, verifyPassword } from "./password.ts";

export type SignInResult =
  | { ok: true; userId: string }
  | { ok: false; reason: "invalid" | "disabled" | "rate_limited"; message: string };

// 5 wrong passwords per account per 15 minutes stops guessing without locking a person out for long;
// the per-IP budget is wider because an office shares one address.
const WINDOW_MS = 15 * 60_000;
export function createSignInLimits() {
  return {
    perAccount: new AttemptLimiter({ maxFailures: 5, windowMs: WINDOW_MS }),
    perIp: new AttemptLimiter({ maxFailures: 30, windowMs: WINDOW_MS }),
  };
}
export type SignInLimits = ReturnType<typeof createSignInLimits>;

export async function signIn(
  db: Database,
  limits: SignInLimits,
  input: { email: string; password: string; ip: string },
): Promise<SignInResult> {
  const email = emailKey(input.email);
  const waitMs = Math.max(limits.perAccount.retryAfterMs(email), limits.perIp.retryAfterMs(input.ip));
  if (waitMs > 0) {
    const minutes = Math.max(1, Math.ceil(waitMs / 60_000));
    return {
      ok: false,
      reason: "rate_limited",
      message: `Too many failed sign-in attempts. Try again in ${minutes} minute${minutes === 1 ? "" : "s"}.`,
    };
  }

  const [user] = await db.select().from(Users).where(eq(Users.email, email)).limit(1);
  const passwordOk = await verifyPassword(user?.passwordHash ?? (await dummyPasswordHash()), input.password);
  if (!user || !passwordOk) {
    limits.perAccount.recordFailure(email);
    limits.perIp.recordFailure(input.ip);
    return { ok: false, reason: "invalid", message: "Wrong email or password." };
  }
  if (user.disabledAt) {
    return {
      ok: false,
      reason: "disabled",
      message: "This account has been deactivated. Ask an administrator to reactivate it.",
    };
  }
  limits.perAccount.reset(email);
  await db.update(Users).set({ lastLoginAt: new Date() }).where(eq(Users.id, user.id));
  return { ok: true, userId: user.id };
}
