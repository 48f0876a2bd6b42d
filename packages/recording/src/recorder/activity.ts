/**
 * What happened in each second of a recording, for the replay page's seek bar and "skip idle":
 * encoded bytes (how much the picture changed) and the controller's pointer clicks and key presses
 * as counts, which the agent reports once a second on the control channel. Never which keys.
 */
export type ActivitySecond = [second: number, bytes: number, clicks: number, keys: number];

export class ActivityLog {
  private readonly seconds = new Map<number, ActivitySecond>();

  private at(ms: number): ActivitySecond {
    const second = Math.max(0, Math.floor(ms / 1000));
    let entry = this.seconds.get(second);
    if (!entry) this.seconds.set(second, (entry = [second, 0, 0, 0]));
    return entry;
  }

  onFrame(timeMs: number, bytes: number): void {
    this.at(timeMs)[1] += bytes;
  }

  /** The agent's `control/activity` report; anything else on the control channel is ignored. */
  onControl(message: unknown, nowMs: number): void {
    if (typeof message !== "object" || message === null) return;
    const m = message as Record<string, unknown>;
    if (m.type !== "control/activity") return;
    const count = (v: unknown) =>
      Number.isInteger(v) && (v as number) >= 0 ? Math.min(v as number, 10_000) : 0;
    const entry = this.at(nowMs);
    entry[2] += count(m.clicks);
    entry[3] += count(m.keys);
  }

  /** Hands over (and forgets) every second that began before `endMs`: a segment's share. */
  take(_startMs: number, endMs: number): ActivitySecond[] {
    const taken: ActivitySecond[] = [];
    for (const [second, entry] of this.seconds) {
      if (second * 1000 >= endMs) continue;
      taken.push(entry);
      this.seconds.delete(second);
    }
    return taken.sort((a, b) => a[0] - b[0]);
  }
}
