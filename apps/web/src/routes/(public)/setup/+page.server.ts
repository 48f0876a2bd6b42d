import { emailInput, passwordInput, setupFirstAdmin } from "@rd/api";
import { AttemptLimiter, clientKey, recordSignIn } from "@rd/auth";
import { fail, redirect } from "@sveltejs/kit";
import { z } from "zod";
import type { Actions } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { log } from "$lib/server/log.ts";
import { startSession } from "$lib/server/session-cookie.ts";

// The token is 80 bits: 10 wrong ones per address per 15 minutes stops guessing, not a typo.
const wrongTokens = new AttemptLimiter({ maxFailures: 10, windowMs: 15 * 60_000 });

const setupInput = z
  .object({
    workspace: z.string().trim().min(1, { error: "Workspace name is required" }).max(100),
    name: z.string().trim().min(1, { error: "Your name is required" }).max(100),
    email: emailInput,
    password: passwordInput,
    confirm: z.string(),
  })
  .refine((v) => v.password === v.confirm, { error: "The two passwords do not match", path: ["confirm"] });

export const actions: Actions = {
  default: async (event) => {
    const client = clientKey(event.locals.clientIp);
    // Counted before any await, so parallel guesses cannot slip past the limit.
    if (wrongTokens.tryConsume(client) > 0) {
      log.warn({ ip: event.locals.clientIp }, "setup token attempts throttled");
      return fail(429, { values: undefined, message: "Too many wrong setup tokens. Wait 15 minutes." });
    }
    const form = Object.fromEntries(await event.request.formData());
    const parsed = setupInput.safeParse(form);
    const values = {
      token: String(form.token ?? ""),
      workspace: String(form.workspace ?? ""),
      name: String(form.name ?? ""),
      email: String(form.email ?? ""),
    };
    const app = getApp();
    if (!app.setupToken?.matches(values.token)) {
      log.warn({ ip: event.locals.clientIp }, "first-run setup refused: wrong setup token");
      return fail(403, {
        values,
        message: "That is not the setup token. Copy it from the server's console (or DATA_DIR/setup-token).",
      });
    }
    wrongTokens.forgive(client);
    if (!parsed.success) {
      // Each message names its field already ("Your name is required"), so no paths here.
      return fail(400, { values, message: parsed.error.issues.map((i) => i.message).join(". ") + "." });
    }
    const created = await setupFirstAdmin(app.database.db, parsed.data);
    if (!created) redirect(303, "/login");
    await app.setupToken.consume();
    await startSession(event, created.userId);
    await recordSignIn(
      app.database.db,
      { id: created.userId, tenantId: created.tenantId },
      event.locals.clientIp,
    );
    redirect(303, "/agents");
  },
};
