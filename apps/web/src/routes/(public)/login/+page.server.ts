import { ssoRequired } from "@rd/api";
import { recordSignIn, signIn } from "@rd/auth";
import { fail, redirect } from "@sveltejs/kit";
import type { Actions, PageServerLoad } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { logSecurity } from "$lib/server/log.ts";
import { setPendingSignIn } from "$lib/server/pending-sign-in.ts";
import { safeNext } from "$lib/server/safe-next.ts";
import { startSession } from "$lib/server/session-cookie.ts";

export const load: PageServerLoad = ({ url }) => ({
  // A refused single sign-on comes back here with its reason (never a secret: our own sentence).
  ssoError: url.searchParams.get("sso_error")?.slice(0, 300) ?? null,
});

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = String(form.get("email") ?? "").slice(0, 254);
    const password = String(form.get("password") ?? "").slice(0, 1024);
    if (!email || !password) return fail(400, { email, message: "Enter your email and password." });

    const app = getApp();
    const ip = event.locals.clientIp;
    const result = await signIn(app.database.db, app.signInLimits, { email, password, ip }, logSecurity);
    if (!result.ok)
      return fail(result.reason === "rate_limited" ? 429 : 400, { email, message: result.message });

    if (await ssoRequired(app.database.db, result.tenantId, result.role)) {
      return fail(400, {
        email,
        message: "Your workspace signs in with single sign-on: use “Sign in with single sign-on” below.",
      });
    }
    const next = safeNext(event.url.searchParams.get("next"), event.url.origin);
    if (result.secondFactor) {
      await setPendingSignIn(event, { userId: result.userId, tenantId: result.tenantId, next });
      redirect(303, "/login/code");
    }
    await startSession(event, result.userId);
    await recordSignIn(app.database.db, { id: result.userId, tenantId: result.tenantId }, ip);
    // An admin-issued password is changed before anything else (the app layout sends them there too).
    redirect(303, result.mustChangePassword ? "/account" : next);
  },
};
