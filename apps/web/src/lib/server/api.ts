/**
 * Server-side tRPC calls for page loads: the same procedures the browser calls, without HTTP.
 * A procedure's expected errors become the matching HTTP error page.
 */
import { createCaller } from "@rd/api";
import { error, type RequestEvent } from "@sveltejs/kit";
import { TRPCError } from "@trpc/server";
import { getHTTPStatusCodeFromError } from "@trpc/server/http";
import { trpcContext } from "./trpc-context.ts";

export function api(event: Pick<RequestEvent, "locals" | "url">) {
  return createCaller(trpcContext(event));
}

/** Runs a load's API call; NOT_FOUND, FORBIDDEN and friends become error pages with their message. */
export async function load<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (cause) {
    if (cause instanceof TRPCError && cause.code !== "INTERNAL_SERVER_ERROR") {
      error(getHTTPStatusCodeFromError(cause), { message: cause.message });
    }
    throw cause;
  }
}
