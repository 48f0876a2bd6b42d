/**
 * How much of the screen changed over the last whole second, for telling a film (its whole area
 * redrawn every frame) from a terminal (its lines, and the region it scrolls).
 *
 * X reports a change as many overlapping rectangles (a terminal scroll: the region, then each line
 * drawn into it), so summing them counts the same pixels several times over. Within one frame slot
 * (what a capture at the frame rate would read as one frame) only the growth of their bounding box
 * counts: a slot adds at most one screen, however it was reported.
 */
import type { Rect } from "./x-screen-reader.ts";

export class ChangedArea {
  private readonly slotMs: number;
  private slot = -1;
  private bounds?: Rect;
  /** The second under way (from startedAt) and the whole one before it. */
  private startedAt = Number.NEGATIVE_INFINITY;
  private current = { area: 0, slots: 0 };
  private previous = { area: 0, slots: 0 };

  constructor(fps: number) {
    this.slotMs = 1000 / fps;
  }

  note(rect: Rect, now: number): void {
    if (now - this.startedAt >= 1000) {
      this.previous = now - this.startedAt < 2000 ? this.current : { area: 0, slots: 0 };
      this.startedAt = now;
      this.current = { area: 0, slots: 0 };
    }
    const slot = Math.floor(now / this.slotMs);
    const before = this.bounds && slot === this.slot ? this.bounds : undefined;
    if (!before) this.current.slots++;
    this.slot = slot;
    const after = before ? boundingBox([before, rect])! : rect;
    this.bounds = after;
    this.current.area += area(after) - (before ? area(before) : 0);
  }

  /**
   * Pixels changed over the last whole second, and in how many frame slots; none when nothing was
   * reported for two. Their ratio tells a film (the whole screen each slot, however often X
   * reports) from a terminal (its window's lines and scroll region).
   */
  lastSecond(now: number): { area: number; slots: number } {
    const age = now - this.startedAt;
    return age >= 2000 ? { area: 0, slots: 0 } : age >= 1000 ? { ...this.current } : { ...this.previous };
  }
}

function area(rect: Rect): number {
  return rect.width * rect.height;
}

/** The smallest rectangle holding all of `rects`; undefined for none. */
export function boundingBox(rects: Rect[]): Rect | undefined {
  if (!rects.length) return undefined;
  let left = Infinity;
  let top = Infinity;
  let right = -Infinity;
  let bottom = -Infinity;
  for (const r of rects) {
    left = Math.min(left, r.x);
    top = Math.min(top, r.y);
    right = Math.max(right, r.x + r.width);
    bottom = Math.max(bottom, r.y + r.height);
  }
  return { x: left, y: top, width: right - left, height: bottom - top };
}
