/**
 * Users of the caller's tenant, for admins: list, create, change a role, (de)activate, reset a
 * password or a lost second factor; and the tenant's sign-in policy. A password an admin hands out is one-time: the
 * user must choose their own at first sign-in, so no admin knows anyone's password for long.
 */
import { generateToken, hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "@rd/auth";
import {
  appendEvent,
  databaseError,
  type Executor,
  emailKey,
  notifyControl,
  revokeUser,
  Tenants,
  UNIQUE_VIOLATION,
  Users,
} from "@rd/db";
import { TRPCError } from "@trpc/server";
import { and, asc, eq, inArray } from "drizzle-orm";
import { z } from "zod";
import { id, text } from "../inputs.ts";
import { adminProcedure, notFound, router } from "../trpc.ts";
import { disableTwoFactor } from "./account.ts";

const userColumns = {
  id: Users.id,
  email: Users.email,
  name: Users.name,
  role: Users.role,
  disabledAt: Users.disabledAt,
  lastLoginAt: Users.lastLoginAt,
  mustChangePassword: Users.mustChangePassword,
  twoFactorEnabledAt: Users.totpEnabledAt,
  createdAt: Users.createdAt,
};

export const passwordInput = z
  .string()
  .min(PASSWORD_MIN_LENGTH, { error: `Password must be at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH, { error: `Password must be at most ${PASSWORD_MAX_LENGTH} characters` });

export const emailInput = z.email({ error: "Enter a valid email address" }).max(254);

/**
 * Locks the acting admin's row and the user's (in id order, so two admins acting on each other
 * wait instead of deadlocking) and checks the admin still is one: two admins demoting or
 * deactivating each other at the same moment would otherwise both pass the check made when their
 * requests began, and leave the workspace with no admin. Returns the user's row as it was.
 */
async function lockAdminAndUser(tx: Executor, admin: { id: string; tenantId: string }, userId: string) {
  const rows = await tx
    .select({ id: Users.id, role: Users.role, disabledAt: Users.disabledAt })
    .from(Users)
    .where(and(eq(Users.tenantId, admin.tenantId), inArray(Users.id, [admin.id, userId])))
    .orderBy(asc(Users.id))
    .for("update");
  const me = rows.find((row) => row.id === admin.id);
  if (!me || me.role !== "admin" || me.disabledAt) {
    throw new TRPCError({
      code: "FORBIDDEN",
      message: "You are no longer an administrator of this workspace.",
    });
  }
  const user = rows.find((row) => row.id === userId);
  if (!user) throw notFound("User");
  return user;
}

export const usersRouter = router({
  list: adminProcedure.query(({ ctx }) =>
    ctx.db
      .select(userColumns)
      .from(Users)
      .where(eq(Users.tenantId, ctx.user.tenantId))
      .orderBy(asc(Users.createdAt)),
  ),

  /**
   * Without a password, one is generated and returned once for the admin to hand over. Either way
   * the user replaces it at first sign-in.
   */
  create: adminProcedure
    .input(
      z.object({
        email: emailInput,
        name: text("Name", 100),
        role: z.enum(["admin", "technician"]).default("technician"),
        password: passwordInput.optional(),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      const temporaryPassword = input.password ? null : generateToken(12);
      const passwordHash = await hashPassword(input.password ?? temporaryPassword!);
      try {
        return await ctx.db.transaction(async (tx) => {
          const [user] = await tx
            .insert(Users)
            .values({
              tenantId: ctx.user.tenantId,
              email: emailKey(input.email),
              name: input.name,
              role: input.role,
              passwordHash,
              mustChangePassword: true,
            })
            .returning(userColumns);
          await appendEvent(tx, {
            tenantId: ctx.user.tenantId,
            type: "user_created",
            actor: { type: "user", id: ctx.user.id },
            data: { userId: user!.id, email: user!.email, role: user!.role },
          });
          return { user: user!, temporaryPassword };
        });
      } catch (error) {
        if (databaseError(error)?.code === UNIQUE_VIOLATION) {
          throw new TRPCError({
            code: "CONFLICT",
            message: `A user with the email ${emailKey(input.email)} already exists.`,
          });
        }
        throw error;
      }
    }),

  /**
   * A new one-time password for someone who forgot theirs: returned once, to be changed at first
   * sign-in; the user is signed out everywhere at once.
   */
  resetPassword: adminProcedure.input(z.object({ id: id("User id") })).mutation(async ({ ctx, input }) => {
    if (input.id === ctx.user.id) {
      throw new TRPCError({
        code: "BAD_REQUEST",
        message: "Change your own password on your Account page (it needs your current one).",
      });
    }
    const temporaryPassword = generateToken(12);
    const passwordHash = await hashPassword(temporaryPassword);
    const user = await ctx.db.transaction(async (tx) => {
      const [updated] = await tx
        .update(Users)
        .set({ passwordHash, mustChangePassword: true, passwordChangedAt: new Date() })
        .where(and(eq(Users.id, input.id), eq(Users.tenantId, ctx.user.tenantId)))
        .returning(userColumns);
      if (!updated) throw notFound("User");
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "password_reset",
        actor: { type: "user", id: ctx.user.id },
        data: { userId: updated.id, email: updated.email },
      });
      return updated;
    });
    await ctx.auth.invalidateUserSessions(user.id);
    return { user, temporaryPassword };
  }),

  /** Turns off the second factor of a user who lost their phone; they enrol again at next sign-in if required. */
  resetTwoFactor: adminProcedure.input(z.object({ id: id("User id") })).mutation(async ({ ctx, input }) => {
    const [user] = await ctx.db
      .select(userColumns)
      .from(Users)
      .where(and(eq(Users.id, input.id), eq(Users.tenantId, ctx.user.tenantId)));
    if (!user) throw notFound("User");
    await disableTwoFactor(ctx.db, { tenantId: ctx.user.tenantId, userId: user.id, by: ctx.user.id });
    await ctx.auth.invalidateUserSessions(user.id);
    return { reset: true };
  }),

  /** The workspace's sign-in policy. */
  policy: adminProcedure.query(async ({ ctx }) => {
    const [tenant] = await ctx.db
      .select({ twoFactor: Tenants.twoFactorPolicy, recordingRetentionDays: Tenants.recordingRetentionDays })
      .from(Tenants)
      .where(eq(Tenants.id, ctx.user.tenantId));
    return tenant!;
  }),

  /** Who must sign in with a second factor: nobody, admins, or everyone. */
  setTwoFactorPolicy: adminProcedure
    .input(z.object({ policy: z.enum(["off", "admins", "everyone"]) }))
    .mutation(async ({ ctx, input }) => {
      await ctx.db.transaction(async (tx) => {
        await tx
          .update(Tenants)
          .set({ twoFactorPolicy: input.policy })
          .where(eq(Tenants.id, ctx.user.tenantId));
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "tenant_security_changed",
          actor: { type: "user", id: ctx.user.id },
          data: { twoFactorPolicy: input.policy },
        });
      });
      return { twoFactor: input.policy };
    }),

  /**
   * How many days recordings are kept; the recorder's hourly sweep deletes older ones (their hashes
   * stay in the audit chain).
   */
  setRecordingRetention: adminProcedure
    .input(
      z.object({
        days: z
          .number({ error: "Retention must be a number of days" })
          .int({ error: "Retention must be a whole number of days" })
          .min(1, { error: "Keep recordings at least 1 day" })
          .max(3650, { error: "Keep recordings at most 3650 days (10 years)" }),
      }),
    )
    .mutation(async ({ ctx, input }) => {
      await ctx.db.transaction(async (tx) => {
        const [before] = await tx
          .select({ days: Tenants.recordingRetentionDays })
          .from(Tenants)
          .where(eq(Tenants.id, ctx.user.tenantId));
        if (before?.days === input.days) return;
        await tx
          .update(Tenants)
          .set({ recordingRetentionDays: input.days })
          .where(eq(Tenants.id, ctx.user.tenantId));
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "recording_retention_changed",
          actor: { type: "user", id: ctx.user.id },
          data: { from: before?.days ?? null, to: input.days },
        });
      });
      return { recordingRetentionDays: input.days };
    }),

  /**
   * Makes someone an admin or a technician. It applies at once: the dashboard reads the role on
   * every request, and the workers update the live sessions the user is in (an admin may take
   * control and end anyone's session). Never your own role, so a workspace always keeps an admin.
   */
  setRole: adminProcedure
    .input(z.object({ id: id("User id"), role: z.enum(["admin", "technician"]) }))
    .mutation(async ({ ctx, input }) => {
      if (input.id === ctx.user.id) {
        throw new TRPCError({
          code: "BAD_REQUEST",
          message: "You cannot change your own role. Another admin can.",
        });
      }
      return ctx.db.transaction(async (tx) => {
        const before = await lockAdminAndUser(tx, ctx.user, input.id);
        const [updated] = await tx
          .update(Users)
          .set({ role: input.role })
          .where(and(eq(Users.id, input.id), eq(Users.tenantId, ctx.user.tenantId)))
          .returning(userColumns);
        if (before.role === input.role) return updated!;
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "user_role_changed",
          actor: { type: "user", id: ctx.user.id },
          data: { userId: updated!.id, email: updated!.email, from: before.role, to: input.role },
        });
        await notifyControl(tx, { kind: "user-role", userId: updated!.id, admin: input.role === "admin" });
        return updated!;
      });
    }),

  /**
   * Deactivating signs the user out everywhere at once, takes them out of every session they are in
   * (closing their live viewers on every worker) and refuses their tickets from then on; their
   * history stays.
   */
  setDisabled: adminProcedure
    .input(z.object({ id: id("User id"), disabled: z.boolean() }))
    .mutation(async ({ ctx, input }) => {
      if (input.id === ctx.user.id && input.disabled) {
        throw new TRPCError({ code: "BAD_REQUEST", message: "You cannot deactivate your own account." });
      }
      const user = await ctx.db.transaction(async (tx) => {
        await lockAdminAndUser(tx, ctx.user, input.id);
        const [updated] = await tx
          .update(Users)
          .set({ disabledAt: input.disabled ? new Date() : null })
          .where(and(eq(Users.id, input.id), eq(Users.tenantId, ctx.user.tenantId)))
          .returning(userColumns);
        if (!updated) throw notFound("User");
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: input.disabled ? "user_deactivated" : "user_reactivated",
          actor: { type: "user", id: ctx.user.id },
          data: { userId: updated.id, email: updated.email },
        });
        if (input.disabled)
          await revokeUser(tx, { userId: updated.id, actor: { type: "user", id: ctx.user.id } });
        return updated;
      });
      if (input.disabled) await ctx.auth.invalidateUserSessions(user.id);
      return user;
    }),
});
