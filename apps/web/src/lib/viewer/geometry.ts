/**
 * Viewer geometry: where the remote picture sits inside the video element (object-fit: contain),
 * pointer positions normalized to that picture, and wheel deltas as notches. Pure functions, no DOM.
 */

/** How the picture is shown: scaled to fit the viewer, or one remote pixel per screen pixel (scrollable). */
export type ScaleMode = "fit" | "actual";

/** The parts of a DOMRect the geometry needs; a DOMRect satisfies it. */
export interface Rect {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** A point on the remote screen, 0..1 on each axis; `inside` is false when it came from a letterbox bar. */
export interface NormalizedPoint {
  x: number;
  y: number;
  inside: boolean;
}

/**
 * The rectangle the picture occupies inside an element of `element`'s box under object-fit: contain
 * (CSS Images 3 §5.5): scaled to fit whole, centred, the rest letterbox. Null until the video has a size.
 */
export function contentRect(element: Rect, videoWidth: number, videoHeight: number): Rect | null {
  if (!(videoWidth > 0 && videoHeight > 0 && element.width > 0 && element.height > 0)) return null;
  const scale = Math.min(element.width / videoWidth, element.height / videoHeight);
  const width = videoWidth * scale;
  const height = videoHeight * scale;
  return {
    left: element.left + (element.width - width) / 2,
    top: element.top + (element.height - height) / 2,
    width,
    height,
  };
}

const clamp01 = (n: number) => Math.min(1, Math.max(0, n));

/**
 * A client-coordinate point as a position on the remote screen, 0..1 on each axis, measured on the
 * displayed picture (letterbox excluded). Points outside the picture are clamped to its edge and
 * flagged `inside: false`, so a drag that leaves the picture still ends on its border. Null while
 * the video has no size yet.
 */
export function normalizedPoint(
  clientX: number,
  clientY: number,
  elementRect: Rect,
  videoWidth: number,
  videoHeight: number,
): NormalizedPoint | null {
  const picture = contentRect(elementRect, videoWidth, videoHeight);
  if (!picture) return null;
  const x = (clientX - picture.left) / picture.width;
  const y = (clientY - picture.top) / picture.height;
  return { x: clamp01(x), y: clamp01(y), inside: x >= 0 && x <= 1 && y >= 0 && y <= 1 };
}

/** WheelEvent.deltaMode values (UI Events §5.2.2). */
export const DELTA_MODE = { pixel: 0, line: 1, page: 2 } as const;

/**
 * Pixels per notch: Chromium and Firefox report 100 px for one notch of a classic mouse wheel at
 * default settings (Chromium on Linux reports 120 with some drivers; close enough to round the same).
 */
export const PIXELS_PER_NOTCH = 100;
/** Lines per notch: Firefox in line mode reports 3 lines per notch, the Windows and GTK default. */
export const LINES_PER_NOTCH = 3;
/** A "page" scroll (the one-screen-at-a-time wheel setting) as notches: about a screen of text. */
export const NOTCHES_PER_PAGE = 10;
/** The protocol's bound on one input/wheel message. */
export const MAX_NOTCHES = 50;

/** One wheel event's deltas as (fractional) notches, sign preserved: positive is down / right. */
export function wheelNotches(deltaX: number, deltaY: number, deltaMode: number): { dx: number; dy: number } {
  const perNotch =
    deltaMode === DELTA_MODE.line
      ? 1 / LINES_PER_NOTCH
      : deltaMode === DELTA_MODE.page
        ? NOTCHES_PER_PAGE
        : 1 / PIXELS_PER_NOTCH;
  const finite = (n: number) => (Number.isFinite(n) ? n : 0);
  return { dx: finite(deltaX) * perNotch, dy: finite(deltaY) * perNotch };
}

/**
 * Turns a stream of fractional notches (touchpads send many tiny deltas) into whole notches to send,
 * keeping the remainder for the next event so slow scrolling still arrives. A change of direction
 * drops the remainder, so a reversal takes effect at once. Each result is bounded by MAX_NOTCHES.
 */
export class WheelAccumulator {
  private restX = 0;
  private restY = 0;

  /** Adds one event's notches; returns whole notches to send, or null when none are due yet. */
  add(dx: number, dy: number): { dx: number; dy: number } | null {
    this.restX = accumulate(this.restX, dx);
    this.restY = accumulate(this.restY, dy);
    const wholeX = Math.trunc(this.restX);
    const wholeY = Math.trunc(this.restY);
    if (wholeX === 0 && wholeY === 0) return null;
    this.restX -= wholeX;
    this.restY -= wholeY;
    const bound = (n: number) => Math.max(-MAX_NOTCHES, Math.min(MAX_NOTCHES, n)) || 0;
    return { dx: bound(wholeX), dy: bound(wholeY) };
  }

  reset(): void {
    this.restX = 0;
    this.restY = 0;
  }
}

function accumulate(rest: number, delta: number): number {
  if (delta === 0) return rest;
  return Math.sign(rest) === -Math.sign(delta) ? delta : rest + delta;
}
