/**
 * Lets werift say ICE is connected the moment a check completes it, not at its next pacing tick.
 *
 * werift's `connect()` starts a check, sleeps 20 ms (RFC 8445's pacing of checks), starts the next,
 * and so on; only when it wakes to find nothing left to do does it wait for the check list's
 * outcome and announce "connected". The agent applies the browser's answer before the browser's
 * candidates or first check have arrived (they follow it by a few milliseconds), so werift's list
 * was empty when it started, the first check was answered within ~10 ms, and "connected" (and the
 * DTLS server with it) waited for the tick: bench:media's agent log showed "checking" to
 * "connected" in 20–24 ms on nearly every connection.
 *
 * So `connect()` first waits for the browser to show up (a candidate, or a check of its own, which
 * werift keeps for the start): with nothing to check werift could do nothing meanwhile either, and
 * its ticks would only make the check that follows wait. Once the check list has pairs and a check
 * has started, the pacing moves to a timer of the agent's own, at werift's 20 ms, while `connect()`
 * goes straight to waiting for the outcome, which werift settles the moment a check completes the
 * list (or every pair has failed). With an empty list werift paces as before: waiting for an
 * outcome then would find none and fail ICE at once.
 *
 * werift offers no option for it: its connection is wrapped here, on the instance, and read
 * defensively; if its shape is not what this expects, nothing changes.
 */
import type { RTCPeerConnection } from "werift";

/** werift's own pause between two checks (RFC 8445's Ta), kept. */
const PACING_MS = 20;

/** How often `connect()` looks for the browser while it waits for it. */
const LOOK_MS = 1;
/**
 * The longest it waits: longer than a relay-only browser takes to gather its first candidate; past
 * it, werift paces as it always did.
 */
const MAX_WAIT_MS = 2000;

/** The part of werift's ICE connection used here. */
interface Scheduler {
  state?: string;
  checkList?: unknown[];
  earlyChecks?: unknown[];
  remoteCandidatesEnd?: boolean;
  schedulingChecks?: () => boolean;
  connect?: () => Promise<void>;
}

const wrapped = new WeakSet<object>();

/**
 * Wraps the scheduler of each ICE connection of `pc`; call after every setLocalDescription (an ICE
 * restart may bring new transports). Returns how many connections are wrapped (0: werift's shape
 * is not what this expects, and it paces as it always did).
 */
export function reportIceAtOnce(pc: RTCPeerConnection): number {
  let count = 0;
  for (const transport of pc.iceTransports) {
    const connection = transport.connection as unknown as Scheduler;
    if (wrapped.has(connection)) {
      count++;
      continue;
    }
    const { schedulingChecks: schedule, connect } = connection;
    if (typeof schedule !== "function" || typeof connect !== "function") continue;
    if (!Array.isArray(connection.checkList) || !Array.isArray(connection.earlyChecks)) continue;
    wrapped.add(connection);
    count++;
    let pacer: ReturnType<typeof setInterval> | undefined;
    const next = () => {
      if (connection.state === "closed" || !schedule.call(connection)) {
        clearInterval(pacer);
        pacer = undefined;
      }
    };
    connection.schedulingChecks = () => {
      const more = schedule.call(connection);
      // Nothing more to schedule, or nothing to wait for yet: werift carries on as it would.
      if (!more || !connection.checkList?.length) return more;
      pacer ??= setInterval(next, PACING_MS);
      // "Nothing more for now": werift's connect() stops pacing and waits for the outcome.
      return false;
    };
    connection.connect = async () => {
      await browserSeen(connection);
      return connect.call(connection);
    };
  }
  return count;
}

/**
 * Resolves once `connection` has a pair or a check from the far end kept for the start, or will get
 * neither (the far end's candidates are over; closed), or after MAX_WAIT_MS.
 */
async function browserSeen(connection: Scheduler): Promise<void> {
  const until = performance.now() + MAX_WAIT_MS;
  const waiting = () =>
    !connection.checkList?.length &&
    !connection.earlyChecks?.length &&
    !connection.remoteCandidatesEnd &&
    connection.state !== "closed" &&
    performance.now() < until;
  while (waiting()) await new Promise((resolve) => setTimeout(resolve, LOOK_MS));
}
