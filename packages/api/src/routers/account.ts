/**
 * The signed-in user's own account: their password and their two-factor sign-in. These procedures
 * stay open while the account owes something (an admin-issued password to replace, a second factor
 * the workspace requires), since they are how it is paid.
 */
import {
  generateRecoveryCodes,
  hashPassword,
  hashRecoveryCode,
  newTotpSecret,
  ProgressiveThrottle,
  totpAad,
  totpKeyUri,
  totpQrSvg,
  totpSecretText,
  twoFactorRequired,
  verifyPassword,
  verifyTotp,
  waitMessage,
} from "@rd/auth";
import { appendEvent, type Database, RecoveryCodes, Tenants, Users } from "@rd/db";
import { TRPCError } from "@trpc/server";
import { and, count, eq, isNull } from "drizzle-orm";
import { z } from "zod";
import { accountProcedure, type AuthedContext, router } from "../trpc.ts";
import { passwordInput } from "./users.ts";

/** Wrong current passwords per user: a stolen session must not become a password oracle. */
const passwordChecks = new ProgressiveThrottle({
  freeFailures: 3,
  baseDelayMs: 2_000,
  maxDelayMs: 15 * 60_000,
  forgetAfterMs: 60 * 60_000,
});

const codeInput = z
  .string()
  .trim()
  .regex(/^[0-9\s-]{6,10}$/, { error: "Enter the 6-digit code from your authenticator app" });

export const accountRouter = router({
  me: accountProcedure.query(async ({ ctx }) => {
    const [row] = await ctx.db
      .select({
        mustChangePassword: Users.mustChangePassword,
        passwordChangedAt: Users.passwordChangedAt,
        totpEnabledAt: Users.totpEnabledAt,
        policy: Tenants.twoFactorPolicy,
      })
      .from(Users)
      .innerJoin(Tenants, eq(Tenants.id, Users.tenantId))
      .where(eq(Users.id, ctx.user.id));
    const [codes] = await ctx.db
      .select({ left: count() })
      .from(RecoveryCodes)
      .where(and(eq(RecoveryCodes.userId, ctx.user.id), isNull(RecoveryCodes.usedAt)));
    return {
      email: ctx.user.email,
      name: ctx.user.name,
      role: ctx.user.role,
      gate: ctx.user.gate,
      mustChangePassword: row!.mustChangePassword,
      passwordChangedAt: row!.passwordChangedAt,
      twoFactorEnabledAt: row!.totpEnabledAt,
      twoFactorRequired: twoFactorRequired(row!.policy, ctx.user.role),
      recoveryCodesLeft: codes?.left ?? 0,
    };
  }),

  /** Needs the current password; signs the user out everywhere else. */
  changePassword: accountProcedure
    .input(z.object({ current: z.string().max(1024), next: passwordInput }))
    .mutation(async ({ ctx, input }) => {
      await checkPassword(ctx, input.current);
      if (input.current === input.next) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "Choose a password different from the current one.",
        });
      }
      const passwordHash = await hashPassword(input.next);
      await ctx.db.transaction(async (tx) => {
        await tx
          .update(Users)
          .set({ passwordHash, mustChangePassword: false, passwordChangedAt: new Date() })
          .where(eq(Users.id, ctx.user.id));
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "password_changed",
          actor: { type: "user", id: ctx.user.id },
          data: { userId: ctx.user.id },
        });
      });
      await ctx.auth.invalidateOtherSessions(ctx.user.id, ctx.sessionId ?? null);
      return { changed: true };
    }),

  twoFactor: router({
    /**
     * Starts enrolment: a new secret, sealed and stored but not yet on, and its QR code. Starting
     * again replaces a secret that was never confirmed.
     */
    begin: accountProcedure.mutation(async ({ ctx }) => {
      if (ctx.user.twoFactorEnabled) {
        throw new TRPCError({ code: "CONFLICT", message: "Two-factor sign-in is on already." });
      }
      const secret = newTotpSecret();
      const sealed = await ctx.secretBox.seal(secret, totpAad(ctx.user.id));
      await ctx.db
        .update(Users)
        .set({ totpSecret: sealed, totpLastStep: null })
        .where(and(eq(Users.id, ctx.user.id), isNull(Users.totpEnabledAt)));
      const uri = totpKeyUri({ issuer: "Remote Desk", accountName: ctx.user.email, secret });
      return { qrSvg: totpQrSvg(uri), uri, secret: totpSecretText(secret) };
    }),

    /** Turns it on with a first code from the app; returns the ten recovery codes, shown once. */
    confirm: accountProcedure.input(z.object({ code: codeInput })).mutation(async ({ ctx, input }) => {
      const [row] = await ctx.db
        .select({ secret: Users.totpSecret, enabled: Users.totpEnabledAt })
        .from(Users)
        .where(eq(Users.id, ctx.user.id));
      if (row?.enabled)
        throw new TRPCError({ code: "CONFLICT", message: "Two-factor sign-in is on already." });
      if (!row?.secret) {
        throw new TRPCError({
          code: "PRECONDITION_FAILED",
          message: "Start again: scan a new QR code first.",
        });
      }
      const check = verifyTotp(await ctx.secretBox.open(row.secret, totpAad(ctx.user.id)), input.code);
      if (!check.ok) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "That code does not match. Check the phone's clock and enter the current code.",
        });
      }
      const codes = generateRecoveryCodes();
      await ctx.db.transaction(async (tx) => {
        await tx
          .update(Users)
          .set({ totpEnabledAt: new Date(), totpLastStep: check.step })
          .where(eq(Users.id, ctx.user.id));
        await replaceRecoveryCodes(tx, ctx.user.id, codes);
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "two_factor_enabled",
          actor: { type: "user", id: ctx.user.id },
          data: { userId: ctx.user.id },
        });
      });
      return { recoveryCodes: codes };
    }),

    /** New recovery codes (the old ones stop working); needs the password. */
    regenerateRecoveryCodes: accountProcedure
      .input(z.object({ password: z.string().max(1024) }))
      .mutation(async ({ ctx, input }) => {
        await checkPassword(ctx, input.password);
        if (!ctx.user.twoFactorEnabled) {
          throw new TRPCError({ code: "PRECONDITION_FAILED", message: "Turn on two-factor sign-in first." });
        }
        const codes = generateRecoveryCodes();
        await ctx.db.transaction((tx) => replaceRecoveryCodes(tx, ctx.user.id, codes));
        return { recoveryCodes: codes };
      }),

    /** Turns it off (needs the password), unless the workspace requires it. */
    disable: accountProcedure
      .input(z.object({ password: z.string().max(1024) }))
      .mutation(async ({ ctx, input }) => {
        await checkPassword(ctx, input.password);
        const [tenant] = await ctx.db
          .select({ policy: Tenants.twoFactorPolicy })
          .from(Tenants)
          .where(eq(Tenants.id, ctx.user.tenantId));
        if (tenant && twoFactorRequired(tenant.policy, ctx.user.role)) {
          throw new TRPCError({
            code: "FORBIDDEN",
            message: "Your workspace requires two-factor sign-in, so it cannot be turned off.",
          });
        }
        await disableTwoFactor(ctx.db, { tenantId: ctx.user.tenantId, userId: ctx.user.id, by: ctx.user.id });
        return { disabled: true };
      }),
  }),
});

async function checkPassword(ctx: AuthedContext, password: string) {
  const verdict = passwordChecks.tryConsume(ctx.user.id);
  if (!verdict.allowed) {
    throw new TRPCError({
      code: "TOO_MANY_REQUESTS",
      message: waitMessage(verdict.retryAfterMs, "wrong passwords"),
    });
  }
  const [row] = await ctx.db
    .select({ hash: Users.passwordHash })
    .from(Users)
    .where(eq(Users.id, ctx.user.id));
  if (!row || !(await verifyPassword(row.hash, password))) {
    throw new TRPCError({ code: "BAD_REQUEST", message: "Your current password is not right." });
  }
  passwordChecks.forgive(ctx.user.id);
}

async function replaceRecoveryCodes(tx: Database, userId: string, codes: string[]) {
  await tx.delete(RecoveryCodes).where(eq(RecoveryCodes.userId, userId));
  await tx.insert(RecoveryCodes).values(codes.map((code) => ({ userId, codeHash: hashRecoveryCode(code) })));
}

/** Turns a user's second factor off: by themselves, or by an admin for someone who lost their phone. */
export async function disableTwoFactor(
  db: Database,
  { tenantId, userId, by }: { tenantId: string; userId: string; by: string },
) {
  await db.transaction(async (tx) => {
    await tx
      .update(Users)
      .set({ totpSecret: null, totpEnabledAt: null, totpLastStep: null })
      .where(and(eq(Users.id, userId), eq(Users.tenantId, tenantId)));
    await tx.delete(RecoveryCodes).where(eq(RecoveryCodes.userId, userId));
    await appendEvent(tx, {
      tenantId,
      type: "two_factor_disabled",
      actor: { type: "user", id: by },
      data: { userId },
    });
  });
}
