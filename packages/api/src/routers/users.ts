/** Users of the caller's tenant, for admins: list, create (with a one-time password), (de)activate. */
import { generateToken, hashPassword, PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH } from "@rd/auth";
import { appendEvent, databaseError, emailKey, revokeUser, UNIQUE_VIOLATION, Users } from "@rd/db";
import { TRPCError } from "@trpc/server";
import { and, asc, eq } from "drizzle-orm";
import { z } from "zod";
import { id, text } from "../inputs.ts";
import { adminProcedure, notFound, router } from "../trpc.ts";

const userColumns = {
  id: Users.id,
  email: Users.email,
  name: Users.name,
  role: Users.role,
  disabledAt: Users.disabledAt,
  lastLoginAt: Users.lastLoginAt,
  createdAt: Users.createdAt,
};

export const passwordInput = z
  .string()
  .min(PASSWORD_MIN_LENGTH, { error: `Password must be at least ${PASSWORD_MIN_LENGTH} characters` })
  .max(PASSWORD_MAX_LENGTH, { error: `Password must be at most ${PASSWORD_MAX_LENGTH} characters` });

export const emailInput = z.email({ error: "Enter a valid email address" }).max(254);

export const usersRouter = router({
  list: adminProcedure.query(({ ctx }) =>
    ctx.db
      .select(userColumns)
      .from(Users)
      .where(eq(Users.tenantId, ctx.user.tenantId))
      .orderBy(asc(Users.createdAt)),
  ),

  /** Without a password, one is generated and returned once for the admin to hand over. */
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
