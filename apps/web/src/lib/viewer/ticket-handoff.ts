/**
 * Hands a ticket the API just issued (Connect, Join, Watch) to the live page that uses it, in
 * memory: one ticket per connection, and no ticket in a URL or in server-rendered HTML. A live page
 * opened any other way (a reload, a link) asks the API for a ticket of its own.
 *
 * Given the signaling URL, the ticket is used at once: the link to the worker opens and says hello
 * while the live page's data and code load, so the agent's offer is often there before the page
 * is. The page takes the open link over (`takeEarlyLink`); one it never takes is closed.
 */
import { SignalingClient } from "@rd/protocol/signaling-client";

/** A signaling link opened for a live page that is on its way, and the peer token it said hello with. */
export interface EarlyLink {
  link: SignalingClient;
  peer: string;
}

type HandedOver =
  { ticket: string } | { early: EarlyLink; signalUrl: string; timer: ReturnType<typeof setTimeout> };

/** A page that has not taken its link by then is not coming (its navigation failed or was left). */
const EARLY_LINK_MS = 15_000;

const handedOver = new Map<string, HandedOver>();

export function handOverTicket(sessionId: string, ticket: string, signalUrl?: string): void {
  drop(sessionId);
  if (!signalUrl) return void handedOver.set(sessionId, { ticket });
  const peer = `page-${crypto.randomUUID()}`;
  const early = { link: new SignalingClient({ url: signalUrl, ticket, peer }), peer };
  const timer = setTimeout(() => drop(sessionId), EARLY_LINK_MS);
  handedOver.set(sessionId, { early, signalUrl, timer });
}

/** The ticket handed over for this session, once; undefined when there is none (or its link opened). */
export function takeHandedOverTicket(sessionId: string): string | undefined {
  const entry = handedOver.get(sessionId);
  if (!entry || !("ticket" in entry)) return undefined;
  handedOver.delete(sessionId);
  return entry.ticket;
}

/** The link opened for this session's live page, once, if it went to `signalUrl`. */
export function takeEarlyLink(sessionId: string, signalUrl: string): EarlyLink | undefined {
  const entry = handedOver.get(sessionId);
  if (!entry || !("early" in entry)) return undefined;
  if (entry.signalUrl !== signalUrl) return void drop(sessionId);
  clearTimeout(entry.timer);
  handedOver.delete(sessionId);
  return entry.early;
}

function drop(sessionId: string) {
  const entry = handedOver.get(sessionId);
  handedOver.delete(sessionId);
  if (entry && "early" in entry) {
    clearTimeout(entry.timer);
    entry.early.link.close(1000, "the live page did not open");
  }
}
