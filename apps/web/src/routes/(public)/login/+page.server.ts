import { signIn } from "@rd/auth";
import { appendEvent } from "@rd/db";
import { fail, redirect } from "@sveltejs/kit";
import { eq } from "drizzle-orm";
import { Users } from "@rd/db";
import type { Actions } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { safeNext, startSession } from "$lib/server/session-cookie.ts";

export const actions: Actions = {
  default: async (event) => {
    const form = await event.request.formData();
    const email = String(form.get("email") ?? "").slice(0, 254);
    const password = String(form.get("password") ?? "").slice(0, 1024);
    if (!email || !password) return fail(400, { email, message: "Enter your email and password." });

    const app = getApp();
    const result = await signIn(app.database.db, app.signInLimits, {
      email,
      password,
      ip: event.locals.clientIp,
    });
    if (!result.ok)
      return fail(result.reason === "rate_limited" ? 429 : 400, { email, message: result.message });

    await startSession(event, result.userId);
    const [user] = await app.database.db
      .select({ tenantId: Users.tenantId })
      .from(Users)
      .where(eq(Users.id, result.userId));
    await appendEvent(app.database.db, {
      tenantId: user!.tenantId,
      type: "user_signed_in",
      actor: { type: "user", id: result.userId },
      data: { ip: event.locals.clientIp },
    });
    redirect(303, safeNext(event.url.searchParams.get("next")));
  },
};
