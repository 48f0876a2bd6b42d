import { describe, expect, it } from "vitest";
import { KeyedThrottle } from "./keyed-throttle.ts";

function throttle(maxKeys = 100) {
  let now = 0;
  const t = new KeyedThrottle<string>({ windowMs: 60_000, maxKeys, now: () => now });
  return { t, advance: (ms: number) => (now += ms) };
}

describe("KeyedThrottle", () => {
  it("passes the first report of a key in a window and holds back the rest", () => {
    const { t } = throttle();
    expect(t.take("a", "1")).toEqual({ suppressed: 0 });
    expect(t.take("a", "2")).toBeNull();
    expect(t.take("a", "3")).toBeNull();
    // Another key has a window of its own.
    expect(t.take("b", "1")).toEqual({ suppressed: 0 });
  });

  it("counts what it held back into the key's next report after the window", () => {
    const { t, advance } = throttle();
    t.take("a", "1");
    t.take("a", "2");
    t.take("a", "3");
    advance(60_000);
    expect(t.take("a", "4")).toEqual({ suppressed: 2 });
    expect(t.take("a", "5")).toBeNull();
  });

  it("hands what a window held back to the sweep, at most once per window, and then forgets the key", () => {
    const { t, advance } = throttle();
    t.take("a", "1");
    t.take("a", "2");
    t.take("a", "3");
    advance(30_000);
    expect(t.sweep().held).toEqual([]);
    advance(30_000);
    expect(t.sweep().held).toEqual([{ key: "a", suppressed: 2, last: "3" }]);
    // The sweep's report counts as the window's one: a report right after it is held back.
    expect(t.take("a", "4")).toBeNull();
    advance(60_000);
    expect(t.sweep().held).toEqual([{ key: "a", suppressed: 1, last: "4" }]);
    advance(60_000);
    expect(t.sweep().held).toEqual([]);
    expect(t.size).toBe(0);
  });

  it("stays bounded: past its key limit it only counts reports of new keys", () => {
    const { t, advance } = throttle(2);
    t.take("a", "1");
    t.take("b", "1");
    expect(t.take("c", "1")).toBeNull();
    expect(t.take("d", "1")).toBeNull();
    expect(t.size).toBe(2);
    advance(60_000);
    expect(t.sweep()).toEqual({ held: [], overflow: 2 });
    expect(t.take("c", "2")).toEqual({ suppressed: 0 });
  });
});
