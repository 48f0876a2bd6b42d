/**
 * Counts the controller's pointer clicks and key presses, for the recording's activity lane: the
 * replay page marks where someone was working, and "skip idle" skips where nobody was. Counts only,
 * from the raw frame, before the input handler parses it (a dropped frame may count; that is fine
 * for a heat lane). Never which key.
 */
export class InputActivity {
  private clicks = 0;
  private keys = 0;

  count(frame: string): void {
    if (!frame.includes('"action":"down"')) return;
    if (frame.includes('"type":"input/pointer"')) this.clicks++;
    else if (frame.includes('"type":"input/key"')) this.keys++;
  }

  /** The counts since the last call, or null when there were none. */
  take(): { clicks: number; keys: number } | null {
    if (this.clicks === 0 && this.keys === 0) return null;
    const counts = { clicks: Math.min(this.clicks, 10_000), keys: Math.min(this.keys, 10_000) };
    this.clicks = this.keys = 0;
    return counts;
  }
}
