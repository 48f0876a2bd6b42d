/**
 * What the per-second activity of a recording tells the player: the idle stretches "Skip idle"
 * jumps over, and the input lane of the seek bar (clicks and key presses, as counts only).
 */

/** Per second of a recording: [second on its clock, encoded bytes, pointer clicks, key presses]. */
export type ActivitySecond = readonly [
  second: number,
  encodedBytes: number,
  pointerClicks: number,
  keyPresses: number,
];

export interface Stretch {
  startMs: number;
  endMs: number;
}

/**
 * A second with at most this many encoded bytes shows no change. The agent drops unchanged frames
 * (ffmpeg mpdecimate) but still sends about one tiny frame a second, tens of bytes; a moving
 * pointer or scrolling text costs kilobytes a second. A blinking caret stays under it.
 */
export const IDLE_BYTES_PER_SECOND = 2048;
/** Shorter quiet stretches are not worth a jump: the reviewer would lose their bearings. */
export const IDLE_MIN_MS = 3000;
/** A jump lands this long before the stretch ends, so the change that ends it is seen starting. */
export const IDLE_LEAD_MS = 1000;

/**
 * The stretches of at least IDLE_MIN_MS with no input, no change on screen and no audit event,
 * within [0, lengthMs]. Seconds without an entry (no frames at all) are quiet. None when the
 * recording has no activity at all: then nothing is known, not everything quiet.
 */
export function idleStretches(
  activity: readonly ActivitySecond[],
  eventsAtMs: readonly number[],
  lengthMs: number,
  options: { bytesPerSecond?: number; minMs?: number } = {},
): Stretch[] {
  if (activity.length === 0 || lengthMs <= 0) return [];
  const threshold = options.bytesPerSecond ?? IDLE_BYTES_PER_SECOND;
  const minMs = options.minMs ?? IDLE_MIN_MS;
  const busy = new Set<number>();
  for (const [second, bytes, clicks, keys] of activity) {
    if (bytes > threshold || clicks > 0 || keys > 0) busy.add(second);
  }
  for (const at of eventsAtMs) if (at >= 0 && at < lengthMs) busy.add(Math.floor(at / 1000));

  const stretches: Stretch[] = [];
  const lastSecond = Math.ceil(lengthMs / 1000);
  let runStart: number | null = null;
  for (let second = 0; second <= lastSecond; second++) {
    const quiet = second < lastSecond && !busy.has(second);
    if (quiet && runStart === null) runStart = second;
    if (!quiet && runStart !== null) {
      const stretch = { startMs: runStart * 1000, endMs: Math.min(second * 1000, lengthMs) };
      if (stretch.endMs - stretch.startMs >= minMs) stretches.push(stretch);
      runStart = null;
    }
  }
  return stretches;
}

/**
 * Where "Skip idle" jumps from `ms`: a little before the end of the idle stretch it is in, when
 * that is still ahead by more than the lead; null otherwise (not idle, or nearly through).
 */
export function idleSkipTarget(
  stretches: readonly Stretch[],
  ms: number,
  leadMs = IDLE_LEAD_MS,
): number | null {
  const stretch = stretches.find((s) => ms >= s.startMs && ms < s.endMs);
  if (!stretch) return null;
  const target = stretch.endMs - leadMs;
  return target > ms + leadMs ? target : null;
}

/**
 * The seek bar's input lane: clicks plus key presses in each of `buckets` equal slices of the
 * recording, scaled to 0..1 by the busiest slice.
 */
export function inputLane(activity: readonly ActivitySecond[], lengthMs: number, buckets: number): number[] {
  const counts = new Array<number>(Math.max(0, buckets)).fill(0);
  if (lengthMs <= 0 || buckets <= 0) return counts;
  for (const [second, , clicks, keys] of activity) {
    const ms = second * 1000;
    if (ms >= lengthMs || clicks + keys === 0) continue;
    counts[Math.min(buckets - 1, Math.floor((ms / lengthMs) * buckets))]! += clicks + keys;
  }
  const max = Math.max(...counts);
  return max === 0 ? counts : counts.map((n) => n / max);
}
