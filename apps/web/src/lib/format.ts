/** Display formatting shared by the dashboard's pages: relative times, durations, dates, event data. */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;

/**
 * How long ago (or how soon) `date` is, in words: "just now", "3 min ago", "2 hours ago", "in 1 hour";
 * "never" for null. `now` is a parameter so tests (and a page rendering a list) use one clock.
 */
export function relativeTime(date: Date | null, now: Date = new Date()): string {
  if (!date) return "never";
  const diff = now.getTime() - date.getTime();
  const abs = Math.abs(diff);
  // Under 45 s the exact count is noise (and clocks disagree by a few seconds).
  if (abs < 45_000) return "just now";
  // Thresholds on the rounded counts, so 59.9 minutes reads "1 hour", never "60 min".
  const minutes = Math.max(1, Math.round(abs / MINUTE));
  const hours = Math.round(abs / HOUR);
  const days = Math.round(abs / DAY);
  let words: string;
  if (minutes < 60) words = `${minutes} min`;
  else if (hours < 24) words = plural(hours, "hour");
  else if (days < 30) words = plural(days, "day");
  else return formatDate(date);
  return diff >= 0 ? `${words} ago` : `in ${words}`;
}

/** A duration as "45s", "4m 12s" or "2h 5m"; "—" when there is none. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return "—";
  const totalSeconds = Math.round(ms / 1000);
  const hours = Math.floor(totalSeconds / 3600);
  const minutes = Math.floor((totalSeconds % 3600) / 60);
  const seconds = totalSeconds % 60;
  if (hours > 0) return `${hours}h ${minutes}m`;
  if (minutes > 0) return `${minutes}m ${seconds}s`;
  return `${seconds}s`;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** A local calendar date, "2025-03-07". */
export function formatDate(date: Date): string {
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}`;
}

/** A local wall-clock time, "09:05:03". */
export function formatTime(date: Date): string {
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

/** A local date and time, "2025-03-07 09:05:03"; "—" when there is none. */
export function formatDateTime(date: Date | null): string {
  return date ? `${formatDate(date)} ${formatTime(date)}` : "—";
}

/** Cuts `text` to at most `max` characters, ending with "…" when it was longer. */
export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

/** An audit event's data as [key, value] pairs to show: objects as JSON, every value at most `max` chars. */
export function eventDataEntries(data: Record<string, unknown>, max = 120): [string, string][] {
  return Object.entries(data).map(([key, value]) => {
    const text = typeof value === "string" ? value : (JSON.stringify(value) ?? String(value));
    return [key, truncate(text, max)];
  });
}

/** A snake_case code ("awaiting_consent", "ended_by_admin") as words. */
export const humanize = (code: string) => code.replaceAll("_", " ");
