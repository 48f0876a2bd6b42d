import { describe, expect, it } from "vitest";
import { BUSY_FRAMES_PER_S, CaptureModeSwitch, QUIET_FRAMES_PER_S } from "./capture-mode.ts";

/** Feeds one rate per second; returns the mode after each. */
function run(rates: number[], modes = new CaptureModeSwitch()): string[] {
  return rates.map((rate) => (modes.observe(rate), modes.mode));
}

describe("CaptureModeSwitch", () => {
  it("starts by change and grabs only after a screen stayed busy for two seconds", () => {
    const busy = BUSY_FRAMES_PER_S;
    expect(run([busy, 0, busy, 1, busy, busy])).toEqual([
      "change",
      "change",
      "change",
      "change",
      "change",
      "grab",
    ]);
  });

  it("goes back to capture by change only after three quiet seconds in a row", () => {
    const modes = new CaptureModeSwitch();
    run([30, 30], modes);
    expect(modes.mode).toBe("grab");
    // Between the two thresholds: stays where it is, whichever way it came from.
    const between = QUIET_FRAMES_PER_S + 1;
    expect(run([0, 0, between, 0, 0, between, 0, 0, 0], modes)).toEqual([
      ...["grab", "grab", "grab", "grab", "grab", "grab", "grab", "grab"],
      "change",
    ]);
  });

  it("reports a switch once, on the second that made it", () => {
    const modes = new CaptureModeSwitch();
    expect([30, 30, 30].map((rate) => modes.observe(rate))).toEqual([undefined, "grab", undefined]);
  });

  it("a reset starts over by change", () => {
    const modes = new CaptureModeSwitch();
    run([30, 30], modes);
    modes.reset();
    expect(modes.mode).toBe("change");
    expect(modes.observe(30)).toBeUndefined();
  });
});
