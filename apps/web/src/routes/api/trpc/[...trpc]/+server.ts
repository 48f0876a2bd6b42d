/** The tRPC HTTP endpoint (fetch adapter). The CSRF check for mutations happens in hooks.server.ts. */
import { appRouter } from "@rd/api";
import { fetchRequestHandler } from "@trpc/server/adapters/fetch";
import type { RequestHandler } from "./$types";
import { log } from "$lib/server/log.ts";
import { trpcContext } from "$lib/server/trpc-context.ts";

const handler: RequestHandler = (event) =>
  fetchRequestHandler({
    endpoint: "/api/trpc",
    req: event.request,
    router: appRouter,
    createContext: () => trpcContext(event),
    onError({ error, path }) {
      if (error.code === "INTERNAL_SERVER_ERROR")
        log.error({ err: error.cause ?? error, path }, "tRPC procedure failed");
    },
  });

export const GET = handler;
export const POST = handler;
