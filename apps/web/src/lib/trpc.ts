/**
 * The dashboard's typed tRPC client. Mutations echo the CSRF cookie in a header.
 *
 * Queries are batched; mutations go at once. A batch leaves on a timer, which runs only after the
 * click's own re-render and paint: Connect's sessions.create left ~11 ms after the click (traced),
 * on the way to the first frame. A person's action is one call; there is nothing to batch it with.
 */
import type { AppRouter } from "@rd/api";
import { createTRPCClient, httpBatchLink, httpLink, splitLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";
import { csrfToken } from "./csrf.ts";

const headers = () => ({ "x-csrf-token": csrfToken() });

export const trpc = createTRPCClient<AppRouter>({
  links: [
    splitLink({
      condition: (op) => op.type === "mutation",
      true: httpLink({ url: "/api/trpc", transformer: superjson, headers }),
      false: httpBatchLink({ url: "/api/trpc", transformer: superjson, headers }),
    }),
  ],
});

/** A message fit to show a person, whatever failed. */
export function errorMessage(error: unknown): string {
  if (error instanceof TRPCClientError) return error.message;
  if (error instanceof TypeError) return "Cannot reach the server. Check your connection and try again.";
  return error instanceof Error ? error.message : String(error);
}
