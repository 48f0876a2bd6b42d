/**
 * Hands a ticket the API just issued (Connect, Join) to the live page that uses it, in memory: one
 * ticket per connection, and no ticket in a URL or in server-rendered HTML. A live page opened any
 * other way (a reload, a link) asks the API for a ticket of its own.
 */
const handedOver = new Map<string, string>();

export function handOverTicket(sessionId: string, ticket: string): void {
  handedOver.set(sessionId, ticket);
}

/** The ticket handed over for this session, once; undefined when there is none. */
export function takeHandedOverTicket(sessionId: string): string | undefined {
  const ticket = handedOver.get(sessionId);
  handedOver.delete(sessionId);
  return ticket;
}
