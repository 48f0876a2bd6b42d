/**
 * Which segments the replay player fetches next, and where playback must jump: a pure plan over the
 * recording's segment index (times in ms on the recording's clock), so the MSE code only carries
 * it out.
 */

export interface PlanSegment {
  seq: number;
  startMs: number;
  durationMs: number;
  /** Begins with a keyframe: decoding may start here. */
  keyframe: boolean;
}

export interface Gap {
  startMs: number;
  endMs: number;
}

const endOf = (s: PlanSegment) => s.startMs + s.durationMs;

/**
 * The index of the segment playing at `ms`: the one containing it, else (in a gap, before the
 * first) the next one to start; -1 past the last.
 */
export function segmentIndexAt(segments: readonly PlanSegment[], ms: number): number {
  // Binary search for the last segment starting at or before `ms`.
  let lo = 0;
  let hi = segments.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (segments[mid]!.startMs <= ms) {
      found = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  if (found >= 0 && ms < endOf(segments[found]!)) return found;
  return found + 1 < segments.length ? found + 1 : -1;
}

export interface PlanState {
  /** Where playback is, or is going (a seek's target). */
  positionMs: number;
  /** Fetch segments starting before this far past the position. */
  aheadMs: number;
  /** At most this many segments in one plan ("a few at a time"). */
  maxCount: number;
  /** Segments in the media buffer now. */
  buffered: ReadonlySet<number>;
  /** The segment appended last: the next one follows it without needing a keyframe. */
  lastAppended: number | null;
  /** Segments that cannot be had (refused, failed their integrity check): passed over. */
  skip: ReadonlySet<number>;
}

/**
 * The next segments to fetch and append, in order, as one run: from the first segment at or after
 * the position that is neither buffered nor skipped, within `aheadMs`. A decoder can only start at
 * a keyframe, so unless that segment begins with one or directly follows the last one appended,
 * the run starts back at the nearest keyframe segment before it (re-appending what lies between).
 * Empty when everything near enough is buffered.
 */
export function planFetch(segments: readonly PlanSegment[], state: PlanState): number[] {
  const at = segmentIndexAt(segments, state.positionMs);
  if (at < 0) return [];
  const horizon = Math.max(state.positionMs, segments[at]!.startMs) + state.aheadMs;
  let first = -1;
  for (let i = at; i < segments.length && segments[i]!.startMs < horizon; i++) {
    const seq = segments[i]!.seq;
    if (!state.buffered.has(seq) && !state.skip.has(seq)) {
      first = i;
      break;
    }
  }
  if (first < 0) return [];

  let start = first;
  const head = segments[first]!;
  const follows = state.lastAppended !== null && state.lastAppended === head.seq - 1;
  if (!head.keyframe && !follows) {
    let k = first - 1;
    while (k >= 0 && !segments[k]!.keyframe && !state.skip.has(segments[k]!.seq)) k--;
    // A skipped segment ends the walk: nothing before it can lead into this one.
    start = k < 0 ? 0 : state.skip.has(segments[k]!.seq) ? k + 1 : k;
  }

  const plan: number[] = [];
  for (let i = start; i < first; i++) plan.push(segments[i]!.seq);
  for (let i = first; i < segments.length; i++) {
    const s = segments[i]!;
    if (i > first && (s.startMs >= horizon || plan.length >= state.maxCount)) break;
    // The run ends at the first segment held (or passed over): the next plan starts after it.
    if (i > first && (state.buffered.has(s.seq) || state.skip.has(s.seq))) break;
    plan.push(s.seq);
  }
  return plan;
}

/**
 * Of the segments thought buffered, those the media buffer no longer holds whole: a removal takes
 * frames up to the next keyframe with it (MSE §3.5.9: what depends on removed frames goes too), so
 * what is left is read back from the buffer's ranges (ms), with `toleranceMs` for frame rounding.
 */
export function notHeld(
  segments: readonly PlanSegment[],
  buffered: ReadonlySet<number>,
  ranges: readonly (readonly [startMs: number, endMs: number])[],
  toleranceMs = 50,
): number[] {
  return segments
    .filter((s) => buffered.has(s.seq))
    .filter((s) => {
      const from = s.startMs + toleranceMs;
      const to = Math.max(from, endOf(s) - toleranceMs);
      return !ranges.some(([start, end]) => start <= from && end >= to);
    })
    .map((s) => s.seq);
}

/**
 * The buffered segments that appending `seq` again spoils: frames that follow replaced ones are
 * dropped up to the next keyframe (MSE §3.5.8, "remove all possible decoding dependencies"), so
 * the segments after it that do not begin with a keyframe must be appended again too.
 */
export function spoiledBy(
  segments: readonly PlanSegment[],
  buffered: ReadonlySet<number>,
  seq: number,
): number[] {
  const at = segments.findIndex((s) => s.seq === seq);
  const spoiled: number[] = [];
  for (let i = at + 1; at >= 0 && i < segments.length; i++) {
    const s = segments[i]!;
    if (s.keyframe || !buffered.has(s.seq)) break;
    spoiled.push(s.seq);
  }
  return spoiled;
}

/**
 * The gap playback has reached: one that `ms` is in, or is within `leadMs` of (a video stalls at
 * the last frame before a hole, a little short of it). Null when there is none.
 */
export function gapAt(gaps: readonly Gap[], ms: number, leadMs: number): Gap | null {
  return gaps.find((g) => ms >= g.startMs - leadMs && ms < g.endMs) ?? null;
}

/**
 * Where a seek to `ms` lands, within [0, lengthMs]: past a gap it falls in; in the gap that ends
 * the recording (picture lost before it stopped), at that gap's start, the last picture there is.
 */
export function seekTarget(gaps: readonly Gap[], ms: number, lengthMs: number): number {
  const clamped = Math.min(Math.max(0, ms), lengthMs);
  const gap = gaps.find((g) => clamped >= g.startMs && (clamped < g.endMs || g.endMs >= lengthMs));
  if (!gap) return clamped;
  return gap.endMs >= lengthMs ? gap.startMs : gap.endMs;
}
