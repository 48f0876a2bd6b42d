/** The dashboard's typed tRPC client. Mutations echo the CSRF cookie in a header. */
import type { AppRouter } from "@rd/api";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import { csrfToken } from "./csrf.ts";

export const trpc = createTRPCClient<AppRouter>({
  links: [
    httpBatchLink({
      url: "/api/trpc",
      transformer: superjson,
      headers: () => ({ "x-csrf-token": csrfToken() }),
    }),
  ],
});

/** A message fit to show a person, whatever failed. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) return error.message;
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  return error instanceof Error ? error.message : String(error);
}
