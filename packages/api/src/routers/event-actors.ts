/**
 * Who did what, in words, for the audit timelines. An event stores its actor as a type and an id;
 * "Signed in by user" told an admin nothing about who signed in. Each event gets the actor's name:
 * a user's name and email, an agent's name, or "system". Names are read in the event's tenant
 * only, and as they are now (a renamed agent shows its new name; the id stays in the chain).
 */
import { Agents, type Database, Users } from "@rd/db";
import { and, eq, inArray } from "drizzle-orm";

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface ActedEvent {
  actorType: string;
  actorId: string | null;
}

export interface EventActor {
  /** "Ada Admin", "Demo desktop", "system"; "an unknown user" should the row be gone. */
  actorName: string;
  /** A user's email, to tell two people of the same name apart. */
  actorEmail: string | null;
}

/** `events` with each one's actor named; two queries at most, whatever the number of events. */
export async function withActorNames<T extends ActedEvent>(
  db: Database,
  tenantId: string,
  events: T[],
): Promise<(T & EventActor)[]> {
  // Ids that are not UUIDs name nobody (and a uuid column refuses them in a query).
  const idsOf = (type: string) => [
    ...new Set(
      events.filter((e) => e.actorType === type && e.actorId && UUID.test(e.actorId)).map((e) => e.actorId!),
    ),
  ];
  const userIds = idsOf("user");
  const agentIds = idsOf("agent");
  const [users, agents] = await Promise.all([
    userIds.length
      ? db
          .select({ id: Users.id, name: Users.name, email: Users.email })
          .from(Users)
          .where(and(eq(Users.tenantId, tenantId), inArray(Users.id, userIds)))
      : [],
    agentIds.length
      ? db
          .select({ id: Agents.id, name: Agents.name })
          .from(Agents)
          .where(and(eq(Agents.tenantId, tenantId), inArray(Agents.id, agentIds)))
      : [],
  ]);
  const userById = new Map(users.map((u) => [u.id, u]));
  const agentById = new Map(agents.map((a) => [a.id, a.name]));
  return events.map((event) => ({ ...event, ...actorOf(event, userById, agentById) }));
}

function actorOf(
  event: ActedEvent,
  users: ReadonlyMap<string, { name: string; email: string }>,
  agents: ReadonlyMap<string, string>,
): EventActor {
  if (event.actorType === "user") {
    const user = event.actorId ? users.get(event.actorId) : undefined;
    return user
      ? { actorName: user.name, actorEmail: user.email }
      : { actorName: "an unknown user", actorEmail: null };
  }
  if (event.actorType === "agent") {
    const name = event.actorId ? agents.get(event.actorId) : undefined;
    return { actorName: name ?? "an agent", actorEmail: null };
  }
  return { actorName: "system", actorEmail: null };
}
