import { describe, expect, it } from "vitest";
import {
  contentRect,
  DELTA_MODE,
  LINES_PER_NOTCH,
  normalizedPoint,
  PIXELS_PER_NOTCH,
  WheelAccumulator,
  wheelNotches,
} from "./geometry.ts";

const box = (left: number, top: number, width: number, height: number) => ({ left, top, width, height });

describe("contentRect", () => {
  it("fills the element when the aspect ratios match", () => {
    expect(contentRect(box(10, 20, 960, 540), 1920, 1080)).toEqual(box(10, 20, 960, 540));
  });

  it("letterboxes top and bottom when the element is taller than the picture", () => {
    expect(contentRect(box(0, 0, 800, 800), 1600, 900)).toEqual(box(0, 175, 800, 450));
  });

  it("pillarboxes left and right when the element is wider than the picture", () => {
    expect(contentRect(box(0, 0, 1000, 300), 400, 300)).toEqual(box(300, 0, 400, 300));
  });

  it("is null until the video and the element have a size", () => {
    expect(contentRect(box(0, 0, 800, 600), 0, 0)).toBeNull();
    expect(contentRect(box(0, 0, 0, 0), 1920, 1080)).toBeNull();
  });
});

describe("normalizedPoint", () => {
  it("maps the corners and centre of an unboxed picture to 0, 1 and 0.5", () => {
    const rect = box(100, 50, 640, 360);
    expect(normalizedPoint(100, 50, rect, 1280, 720)).toEqual({ x: 0, y: 0, inside: true });
    expect(normalizedPoint(740, 410, rect, 1280, 720)).toEqual({ x: 1, y: 1, inside: true });
    expect(normalizedPoint(420, 230, rect, 1280, 720)).toEqual({ x: 0.5, y: 0.5, inside: true });
  });

  it("measures on the picture, not on the letterbox around it", () => {
    // 16:9 in a square: the picture is 800×450 starting 175 px down.
    const rect = box(0, 0, 800, 800);
    expect(normalizedPoint(400, 175, rect, 1600, 900)).toEqual({ x: 0.5, y: 0, inside: true });
    expect(normalizedPoint(200, 175 + 337.5, rect, 1600, 900)).toEqual({ x: 0.25, y: 0.75, inside: true });
  });

  it("clamps a point on a letterbox bar to the picture's edge and says it was outside", () => {
    const rect = box(0, 0, 800, 800);
    expect(normalizedPoint(400, 10, rect, 1600, 900)).toEqual({ x: 0.5, y: 0, inside: false });
    expect(normalizedPoint(-50, 790, rect, 1600, 900)).toEqual({ x: 0, y: 1, inside: false });
  });

  it("handles a pillarboxed picture", () => {
    const rect = box(0, 0, 1000, 300);
    expect(normalizedPoint(300, 150, rect, 400, 300)).toEqual({ x: 0, y: 0.5, inside: true });
    expect(normalizedPoint(200, 150, rect, 400, 300)).toEqual({ x: 0, y: 0.5, inside: false });
  });

  it("accounts for the element's scroll offset in 1:1 mode (a negative left)", () => {
    // A 1920×1080 video shown at its own size, scrolled 500 px right inside its container.
    const rect = box(-500, 0, 1920, 1080);
    expect(normalizedPoint(460, 540, rect, 1920, 1080)).toEqual({ x: 0.5, y: 0.5, inside: true });
  });

  it("is null before the video knows its size", () => {
    expect(normalizedPoint(1, 1, box(0, 0, 100, 100), 0, 0)).toBeNull();
  });
});

describe("wheelNotches", () => {
  it("turns pixel deltas into notches with their sign", () => {
    expect(wheelNotches(0, PIXELS_PER_NOTCH, DELTA_MODE.pixel)).toEqual({ dx: 0, dy: 1 });
    expect(wheelNotches(-2 * PIXELS_PER_NOTCH, -PIXELS_PER_NOTCH / 2, DELTA_MODE.pixel)).toEqual({
      dx: -2,
      dy: -0.5,
    });
  });

  it("turns line deltas into notches", () => {
    expect(wheelNotches(0, LINES_PER_NOTCH, DELTA_MODE.line)).toEqual({ dx: 0, dy: 1 });
    expect(wheelNotches(0, -2 * LINES_PER_NOTCH, DELTA_MODE.line)).toEqual({ dx: 0, dy: -2 });
  });

  it("turns a page into several notches", () => {
    expect(wheelNotches(0, 1, DELTA_MODE.page).dy).toBeGreaterThan(1);
    expect(wheelNotches(0, -1, DELTA_MODE.page).dy).toBeLessThan(-1);
  });

  it("treats a non-finite delta as no movement", () => {
    expect(wheelNotches(Number.NaN, Number.POSITIVE_INFINITY, DELTA_MODE.pixel)).toEqual({ dx: 0, dy: 0 });
  });
});

describe("WheelAccumulator", () => {
  it("adds up small touchpad deltas until a whole notch is due, keeping the rest", () => {
    const wheel = new WheelAccumulator();
    expect(wheel.add(0, 0.4)).toBeNull();
    expect(wheel.add(0, 0.4)).toBeNull();
    expect(wheel.add(0, 0.4)).toEqual({ dx: 0, dy: 1 });
    // 0.2 was kept: two more 0.4s make another notch.
    expect(wheel.add(0, 0.4)).toBeNull();
    expect(wheel.add(0, 0.4)).toEqual({ dx: 0, dy: 1 });
  });

  it("preserves direction on both axes", () => {
    const wheel = new WheelAccumulator();
    expect(wheel.add(-3, -2.5)).toEqual({ dx: -3, dy: -2 });
    expect(wheel.add(0, -0.5)).toEqual({ dx: 0, dy: -1 });
  });

  it("drops the remainder when the direction reverses", () => {
    const wheel = new WheelAccumulator();
    expect(wheel.add(0, 0.9)).toBeNull();
    expect(wheel.add(0, -0.5)).toBeNull();
    expect(wheel.add(0, -0.5)).toEqual({ dx: 0, dy: -1 });
  });

  it("never sends more than the protocol allows in one message", () => {
    expect(new WheelAccumulator().add(500, -500)).toEqual({ dx: 50, dy: -50 });
  });

  it("forgets everything on reset", () => {
    const wheel = new WheelAccumulator();
    wheel.add(0, 0.9);
    wheel.reset();
    expect(wheel.add(0, 0.5)).toBeNull();
  });
});
