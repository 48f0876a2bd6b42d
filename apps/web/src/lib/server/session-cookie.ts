/** Opens a dashboard session for a user and sets its cookie (used by sign-in and first-run setup). */
import type { RequestEvent } from "@sveltejs/kit";
import { getApp } from "./app.ts";

export async function startSession(event: RequestEvent, userId: string) {
  const { cookie } = await getApp().authFor(event.url).createSession(userId);
  event.cookies.set(cookie.name, cookie.value, { path: "/", ...cookie.attributes });
}
