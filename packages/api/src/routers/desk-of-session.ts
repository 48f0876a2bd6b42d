import { Desks, RemoteSessions } from "@rd/db";
import { and, eq } from "drizzle-orm";

/** Joins a session to the desk it showed, if any, in the session's own tenant. */
export const deskOfSession = and(
  eq(Desks.id, RemoteSessions.deskId),
  eq(Desks.tenantId, RemoteSessions.tenantId),
);
