/**
 * The audit timeline beside a replay: each event placed on the chosen recording's clock (during it,
 * in another recording of the session, or when nothing was recorded), the current event for a
 * playback position, and times on a recording's clock in words.
 */

/** The fields of a `recordings.bySession` event the timeline reads. */
export interface ClockedEvent {
  id: string;
  /** Position on each recording's clock (ms since its start), by recording id. */
  atMs: Record<string, number>;
  /** The recording it happened during; null when none was running. */
  recordingId: string | null;
}

/** Where an event falls for the recording being played. */
export type Placement =
  /** During this recording: a click seeks to it. */
  | "here"
  /** During another recording of the session: a click switches to that one. */
  | "other"
  /** While nothing was recorded, before this recording. */
  | "before"
  /** While nothing was recorded, after this recording. */
  | "after";

export type PlacedEvent<E extends ClockedEvent> = E & { at: number; place: Placement };

/** The events on `recordingId`'s clock, in time order (ties keep the chain's order). */
export function placeEvents<E extends ClockedEvent>(
  events: readonly E[],
  recordingId: string,
): PlacedEvent<E>[] {
  const placed = events.map((event) => {
    const at = event.atMs[recordingId] ?? 0;
    const place: Placement =
      event.recordingId === recordingId
        ? "here"
        : event.recordingId !== null
          ? "other"
          : at < 0
            ? "before"
            : "after";
    return { ...event, at, place };
  });
  // Array.prototype.sort is stable: events written in the same millisecond stay in chain order.
  return placed.sort((a, b) => a.at - b.at);
}

/**
 * The index (in `placed`) of the current event at `ms`: the last event of this recording at or
 * before it; -1 before the first. `placed` is in time order, as `placeEvents` gives it.
 */
export function currentEventIndex(placed: readonly { at: number; place: Placement }[], ms: number): number {
  let lo = 0;
  let hi = placed.length - 1;
  let last = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (placed[mid]!.at <= ms) {
      last = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  while (last >= 0 && placed[last]!.place !== "here") last--;
  return last;
}

/**
 * A time on a recording's clock: "0:05", "12:34", "1:02:03"; "−0:12" before its start. Each time
 * reads as the second it falls in, before the start too: 0.4 s before is "−0:01", not "−0:00".
 */
export function formatClock(ms: number): string {
  const sign = ms < 0 ? "−" : "";
  const total = Math.abs(Math.floor(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h > 0 ? `${sign}${h}:${String(m).padStart(2, "0")}:${s}` : `${sign}${m}:${s}`;
}

/** A length in seconds for the bar's notes: "gap: 12 s without picture". */
export const seconds = (ms: number) => `${Math.max(1, Math.round(ms / 1000))} s`;
