/**
 * What the live page shows about its session, and the two ways it arrives. Connect (and Connect
 * again) have just created the session, so they hand the page what it needs in memory, like the
 * ticket: the page then starts the viewer without a round trip for its data. Opened any other way
 * (a reload, Watch live, a link) the page asks the API.
 */
import type { AppRouter } from "@rd/api";
import type { SessionState } from "@rd/protocol";
import { error } from "@sveltejs/kit";
import { createTRPCClient, httpBatchLink, TRPCClientError } from "@trpc/client";
import superjson from "superjson";

export interface LiveView {
  session: {
    id: string;
    status: SessionState;
    endReason: string | null;
    agentId: string;
    agentName: string;
    technicianId: string;
    deskId: string | null;
  };
  /** The signed-in user's place in the session, if they have one (a reload rejoins it). */
  myParticipantId: string | null;
}

/** The view of a session Connect just created (sessions.create's answer), as the API would give it. */
export function liveViewOfNew(
  session: Omit<LiveView["session"], "agentName">,
  agentName: string,
  participantId: string,
): LiveView {
  const { id, status, endReason, agentId, technicianId, deskId } = session;
  return {
    session: { id, status, endReason, agentId, agentName, technicianId, deskId },
    myParticipantId: participantId,
  };
}

const handedOver = new Map<string, LiveView>();

export function handOverLiveView(view: LiveView): void {
  handedOver.set(view.session.id, view);
}

/** The view handed over for this session, once; undefined when there is none. */
export function takeHandedOverLiveView(sessionId: string): LiveView | undefined {
  const view = handedOver.get(sessionId);
  handedOver.delete(sessionId);
  return view;
}

/**
 * The live view from the API, through `fetch` (a load's: in the browser the page's own, during
 * server rendering SvelteKit's, which calls the API in-process with the visitor's cookies).
 * A refusal becomes the error page with the API's message (an unknown session: 404).
 */
export async function fetchLiveView(fetch: typeof globalThis.fetch, sessionId: string): Promise<LiveView> {
  // Queries only, so no CSRF header; the dashboard's shared client reads the cookie from the DOM.
  const api = createTRPCClient<AppRouter>({
    links: [httpBatchLink({ url: "/api/trpc", transformer: superjson, fetch })],
  });
  try {
    const s = await api.sessions.byId.query({ id: sessionId });
    return {
      session: {
        id: s.id,
        status: s.status,
        endReason: s.endReason,
        agentId: s.agentId,
        agentName: s.agentName,
        technicianId: s.technicianId,
        deskId: s.deskId,
      },
      myParticipantId: s.myParticipantId,
    };
  } catch (cause) {
    if (cause instanceof TRPCClientError) {
      const status = (cause.data as { httpStatus?: number } | undefined)?.httpStatus ?? 0;
      if (status >= 400 && status < 500) error(status, { message: cause.message });
    }
    throw cause;
  }
}
