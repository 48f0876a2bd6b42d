import { describe, expect, it } from "vitest";
import { LADDER, rungFor } from "./quality-ladder.ts";

describe("the quality ladder", () => {
  it("keeps frame rate and resolution while the bitrate allows, then gives up frame rate, then size", () => {
    expect(LADDER[rungFor(4000)]).toMatchObject({ fps: 60, scale: 1 });
    expect(LADDER[rungFor(500)]).toMatchObject({ fps: 15, scale: 1 });
    expect(LADDER[rungFor(300)]).toMatchObject({ fps: 15, scale: 0.75 });
    expect(LADDER[rungFor(150)]).toMatchObject({ fps: 5, scale: 0.5 });
  });

  it("steps down at once, but climbs back only with headroom above the better rung", () => {
    let rung = rungFor(4000);
    rung = rungFor(500, rung); // the link narrowed
    expect(rung).toBe(1);
    // Back just above the full-rate rung's floor: not enough to climb.
    expect(rungFor(1100, rung)).toBe(1);
    // Clearly above it: back to full rate.
    expect(rungFor(1400, rung)).toBe(0);
    // Wavering around 450 does not flip back and forth.
    const low = rungFor(440, 1);
    expect(low).toBe(2);
    expect(rungFor(470, low)).toBe(2);
    expect(rungFor(600, low)).toBe(1);
  });
});
