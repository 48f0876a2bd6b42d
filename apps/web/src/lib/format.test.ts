import { describe, expect, it } from "vitest";
import {
  eventDataEntries,
  formatDateTime,
  formatDuration,
  humanize,
  relativeTime,
  truncate,
} from "./format.ts";

const now = new Date(2025, 2, 7, 12, 0, 0);
const ago = (ms: number) => new Date(now.getTime() - ms);

describe("relativeTime", () => {
  it("says never for a missing date", () => {
    expect(relativeTime(null, now)).toBe("never");
  });
  it("says just now for the last few seconds", () => {
    expect(relativeTime(ago(10_000), now)).toBe("just now");
  });
  it("counts minutes, hours and days", () => {
    expect(relativeTime(ago(3 * 60_000), now)).toBe("3 min ago");
    expect(relativeTime(ago(60_000), now)).toBe("1 min ago");
    expect(relativeTime(ago(2 * 3_600_000), now)).toBe("2 hours ago");
    expect(relativeTime(ago(3_600_000), now)).toBe("1 hour ago");
    expect(relativeTime(ago(3 * 86_400_000), now)).toBe("3 days ago");
  });
  it("speaks of the future for later dates", () => {
    expect(relativeTime(ago(-3_600_000), now)).toBe("in 1 hour");
    expect(relativeTime(ago(-15 * 60_000), now)).toBe("in 15 min");
    expect(relativeTime(ago(-(3_600_000 - 500)), now)).toBe("in 1 hour");
  });
  it("falls back to the date after a month", () => {
    expect(relativeTime(new Date(2024, 11, 25, 8, 0, 0), now)).toBe("2024-12-25");
  });
});

describe("formatDuration", () => {
  it("shows a dash when there is no duration", () => {
    expect(formatDuration(null)).toBe("—");
  });
  it("shows seconds, minutes and seconds, or hours and minutes", () => {
    expect(formatDuration(45_000)).toBe("45s");
    expect(formatDuration(4 * 60_000 + 12_000)).toBe("4m 12s");
    expect(formatDuration(2 * 3_600_000 + 5 * 60_000 + 30_000)).toBe("2h 5m");
    expect(formatDuration(0)).toBe("0s");
  });
});

describe("formatDateTime", () => {
  it("formats a local date and time with padded fields", () => {
    expect(formatDateTime(new Date(2025, 0, 5, 9, 3, 7))).toBe("2025-01-05 09:03:07");
  });
  it("shows a dash when there is no date", () => {
    expect(formatDateTime(null)).toBe("—");
  });
});

describe("eventDataEntries", () => {
  it("keeps strings, stringifies the rest and truncates long values", () => {
    const entries = eventDataEntries({
      reason: "ended_by_admin",
      durationMs: 1200,
      info: { a: 1 },
      long: "x".repeat(200),
    });
    expect(entries.slice(0, 3)).toEqual([
      ["reason", "ended_by_admin"],
      ["durationMs", "1200"],
      ["info", '{"a":1}'],
    ]);
    expect(entries[3]?.[1]).toHaveLength(120);
    expect(entries[3]?.[1].endsWith("…")).toBe(true);
  });
});

describe("truncate and humanize", () => {
  it("leaves short text alone", () => {
    expect(truncate("abc", 5)).toBe("abc");
  });
  it("turns snake_case into words", () => {
    expect(humanize("awaiting_consent")).toBe("awaiting consent");
  });
});
