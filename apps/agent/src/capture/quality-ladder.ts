/**
 * What an encoder gives up when the link narrows: bitrate first (the rate cap follows the viewers'
 * estimate), then frame rate, then resolution. Each rung holds down to its `minKbps`; the encoder
 * climbs back to a better rung only with 30 % to spare above that rung's floor, so an estimate that
 * wavers around a boundary does not restart the encoder back and forth.
 */
export interface Rung {
  /** The lowest target bitrate this rung is used at. */
  minKbps: number;
  /** The most frames per second (the agent's own setting still caps it). */
  fps: number;
  /** The share of the screen's width and height encoded. */
  scale: number;
}

/**
 * Under 450 kbit/s the picture shrinks before the frame rate falls again: at 10 frames/s (this
 * rung's rate before) a busy terminal on bench:media's 5 → 0.5 Mbit/s drop never got back to half
 * its 20 frames/s; at 15 and ¾ size it did within 3 s in four runs of six, at ~400 kbit/s.
 */
export const LADDER: readonly Rung[] = [
  { minKbps: 1000, fps: 60, scale: 1 },
  { minKbps: 450, fps: 15, scale: 1 },
  { minKbps: 250, fps: 15, scale: 0.75 },
  { minKbps: 0, fps: 5, scale: 0.5 },
];

const CLIMB_HEADROOM = 1.3;

/** The rung for `kbps`, given the one in use (its index; the best rung at first). */
export function rungFor(kbps: number, current = 0): number {
  let wanted = LADDER.findIndex((rung) => kbps >= rung.minKbps);
  // Climbing: every better rung must be cleared with headroom, not just reached.
  while (wanted < current && kbps < LADDER[wanted]!.minKbps * CLIMB_HEADROOM) wanted++;
  return wanted;
}
