/**
 * Which rows of the screen each recent hand-out of the capture changed from the one before. Whoever
 * holds an earlier hand-out's picture (a pooled frame buffer, the tile encoder's picture) then
 * copies or compares only those rows instead of the whole screen: at 720p that is 3.7 MB, about
 * twenty times a second on a busy terminal, and copying and comparing it whole was a tenth of the
 * agent's CPU there (perf, bench:media's busy terminal).
 */

/** Rows [top, bottom) of the screen; empty when top ≥ bottom. */
export interface RowSpan {
  top: number;
  bottom: number;
}

export const NO_ROWS: RowSpan = { top: 0, bottom: 0 };

/** The smallest span holding both (an empty one adds nothing). */
export function unionRows(a: RowSpan, b: RowSpan | undefined): RowSpan {
  if (!b || b.top >= b.bottom) return a;
  if (a.top >= a.bottom) return b;
  return { top: Math.min(a.top, b.top), bottom: Math.max(a.bottom, b.bottom) };
}

/** Hand-outs remembered: more than the frame pool holds, so a reused buffer is always patched. */
const KEEP = 16;

export class ChangedRows {
  /** spans[i]: what hand-out `newest - spans.length + 1 + i` changed. */
  private readonly spans: RowSpan[] = [];
  private newest = 0;
  /** Rows of the screen written since the last hand-out. */
  private pending: RowSpan = NO_ROWS;

  /** Rows [top, bottom) of the screen were written (read from the X server). */
  wrote(top: number, bottom: number): void {
    this.pending = unionRows(this.pending, { top, bottom });
  }

  /**
   * Hand-out number `handOut` (the one after the last) is made: it changed the rows written since
   * the last one, and `also` (where the pointer was drawn before and is drawn now).
   */
  handedOut(handOut: number, ...also: (RowSpan | undefined)[]): void {
    // A number out of sequence: nothing earlier can be patched from what is kept.
    if (handOut !== this.newest + 1) this.spans.length = 0;
    this.spans.push(also.reduce<RowSpan>((all, span) => unionRows(all, span), this.pending));
    if (this.spans.length > KEEP) this.spans.shift();
    this.newest = handOut;
    this.pending = NO_ROWS;
  }

  /**
   * The rows that differ between hand-out `from`'s picture and hand-out `to`'s, or undefined when
   * that is not known (too long ago): then every row may.
   */
  between(from: number, to: number): RowSpan | undefined {
    const oldest = this.newest - this.spans.length;
    if (from < oldest || to > this.newest || from > to) return undefined;
    let rows = NO_ROWS;
    for (let n = from + 1; n <= to; n++) rows = unionRows(rows, this.spans[n - oldest - 1]);
    return rows;
  }
}
