import { emailInput, passwordInput, setupFirstAdmin } from "@rd/api";
import { fail, redirect } from "@sveltejs/kit";
import { z } from "zod";
import type { Actions } from "./$types";
import { getApp } from "$lib/server/app.ts";
import { startSession } from "$lib/server/session-cookie.ts";

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
    const form = Object.fromEntries(await event.request.formData());
    const parsed = setupInput.safeParse(form);
    const values = {
      workspace: String(form.workspace ?? ""),
      name: String(form.name ?? ""),
      email: String(form.email ?? ""),
    };
    if (!parsed.success) {
      // Each message names its field already ("Your name is required"), so no paths here.
      return fail(400, { values, message: parsed.error.issues.map((i) => i.message).join(". ") + "." });
    }
    const created = await setupFirstAdmin(getApp().database.db, parsed.data);
    if (!created) redirect(303, "/login");
    await startSession(event, created.userId);
    redirect(303, "/agents");
  },
};
