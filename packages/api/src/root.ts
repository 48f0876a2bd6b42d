/** The API's root router. The dashboard imports `AppRouter` as a type only. */
import { accountRouter } from "./routers/account.ts";
import { agentsRouter } from "./routers/agents.ts";
import { desksRouter } from "./routers/desks.ts";
import { eventsRouter } from "./routers/events.ts";
import { recordingsRouter } from "./routers/recordings.ts";
import { sessionsRouter } from "./routers/sessions.ts";
import { ssoRouter } from "./routers/sso.ts";
import { usersRouter } from "./routers/users.ts";
import { createCallerFactory, router } from "./trpc.ts";

export const appRouter = router({
  agents: agentsRouter,
  sessions: sessionsRouter,
  events: eventsRouter,
  users: usersRouter,
  account: accountRouter,
  sso: ssoRouter,
  desks: desksRouter,
  recordings: recordingsRouter,
});

export type AppRouter = typeof appRouter;
export const createCaller = createCallerFactory(appRouter);
