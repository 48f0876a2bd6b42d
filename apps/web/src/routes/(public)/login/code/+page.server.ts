/** The second step of sign-in: a code from the authenticator app, or a recovery code. */
import { recordSignIn, verifySecondFactor } from "@rd/auth";
import { Users } from "@rd/db";
import { fail, redirect } from "@sveltejs/kit";
import { eq } from "drizzle-orm";
import type { Actions, PageServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { clearPendingSignIn, pendingSignIn } from "$lib/server/pending-sign-in.ts";
import { startSession } from "$lib/server/session-cookie.ts";
import { logSecurity } from "$lib/server/log.ts";

export const load: PageServerLoad = async (event) => {
  if (!(await pendingSignIn(event))) redirect(303, "/login");
};

export const actions: Actions = {
  default: async (event) => {
    const pending = await pendingSignIn(event);
    if (!pending) redirect(303, "/login");
    const form = await event.request.formData();
    const code = String(form.get("code") ?? "").slice(0, 64);
    if (!code.trim()) return fail(400, { message: "Enter the code from your authenticator app." });

    const app = getApp();
    const ip = event.locals.clientIp;
    const result = await verifySecondFactor(
      app.database.db,
      app.secretBox,
      app.signInLimits,
      { userId: pending.userId, code, ip },
      logSecurity,
    );
    if (!result.ok) return fail(result.reason === "rate_limited" ? 429 : 400, { message: result.message });

    // Deactivated between the two steps? Then no session.
    const [user] = await app.database.db
      .select({ disabledAt: Users.disabledAt, mustChangePassword: Users.mustChangePassword })
      .from(Users)
      .where(eq(Users.id, pending.userId));
    clearPendingSignIn(event);
    if (!user || user.disabledAt) redirect(303, "/login");
    await startSession(event, pending.userId);
    await recordSignIn(app.database.db, { id: pending.userId, tenantId: pending.tenantId }, ip);
    redirect(303, user.mustChangePassword ? "/account" : pending.next);
  },
};
