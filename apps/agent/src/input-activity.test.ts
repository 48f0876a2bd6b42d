import { describe, expect, it } from "vitest";
import { InputActivity } from "./input-activity.ts";

describe("InputActivity", () => {
  it("counts presses, not moves or releases, and resets on take", () => {
    const activity = new InputActivity();
    activity.count(JSON.stringify({ type: "input/pointer", action: "move", x: 0.1, y: 0.2 }));
    activity.count(JSON.stringify({ type: "input/pointer", action: "down", x: 0.1, y: 0.2, button: 0 }));
    activity.count(JSON.stringify({ type: "input/pointer", action: "up", x: 0.1, y: 0.2, button: 0 }));
    activity.count(JSON.stringify({ type: "input/key", action: "down", code: "KeyA" }));
    activity.count(JSON.stringify({ action: "down", code: "KeyB", type: "input/key" }));
    activity.count(JSON.stringify({ type: "input/key", action: "up", code: "KeyA" }));
    expect(activity.take()).toEqual({ clicks: 1, keys: 2 });
    expect(activity.take()).toBeNull();
  });
});
