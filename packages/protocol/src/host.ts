/**
 * What one process shares between the apps it hosts. In the embedded single-machine run the
 * dashboard and the signaling worker live in one process (PGlite can have one owner only): the
 * dashboard publishes its database here, and the worker publishes how to tell connected peers that
 * the API ended a session. Kept on globalThis because the dashboard's bundle and the worker's
 * sources are separate module instances.
 */
export interface HostServices {
  /** The dashboard's database handle (a @rd/db DbHandle). */
  database?: unknown;
  /** Tells the peers of a session that it ended outside the worker (API, admin). */
  sessionEnded?: (event: { sessionId: string; agentId: string; reason: string }) => void;
}

const key = Symbol.for("remote-desk.host-services");
export const hostServices: HostServices = ((globalThis as Record<symbol, HostServices>)[key] ??= {});
