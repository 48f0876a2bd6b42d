import { describe, expect, it } from "vitest";
import { ChangedArea } from "./changed-area.ts";

const SCREEN = { x: 0, y: 0, width: 100, height: 100 };

describe("ChangedArea", () => {
  it("counts a frame slot's overlapping reports once: a scroll and the lines drawn into it", () => {
    const changed = new ChangedArea(10); // 100 ms slots
    // Each slot: the scroll region (100×50), then five lines inside it.
    for (let slot = 0; slot < 10; slot++) {
      const at = 1000 + slot * 100;
      changed.note({ x: 0, y: 0, width: 100, height: 50 }, at);
      for (let line = 0; line < 5; line++)
        changed.note({ x: 0, y: line * 10, width: 100, height: 10 }, at + 1);
    }
    expect(changed.lastSecond(2000)).toEqual({ area: 10 * 100 * 50, slots: 10 });
  });

  it("counts what a slot's reports add to its bounds, at most the screen", () => {
    const changed = new ChangedArea(10);
    changed.note({ x: 0, y: 0, width: 10, height: 10 }, 1000);
    changed.note({ x: 90, y: 90, width: 10, height: 10 }, 1010);
    changed.note(SCREEN, 1020);
    changed.note(SCREEN, 1030);
    expect(changed.lastSecond(2000)).toEqual({ area: 100 * 100, slots: 1 });
  });

  it("says a film's whole screen every frame, and nothing once the screen is still for two seconds", () => {
    const changed = new ChangedArea(30);
    for (let frame = 0; frame < 60; frame++) changed.note(SCREEN, 1005 + frame * (1000 / 30));
    expect(changed.lastSecond(3010)).toEqual({ area: 30 * 100 * 100, slots: 30 });
    expect(changed.lastSecond(4100)).toEqual({ area: 0, slots: 0 });
  });
});
