/**
 * The X screen's current size, asked of the server each time. libnut reads the size Xlib noted
 * when it connected and never updates it, so after a resolution change it would keep reporting the
 * old one and every click would land off target.
 */
import { runXClient } from "./x-server-utils.ts";

/** The root window's size now, from `xrandr --current` ("Screen 0: ..., current 1920 x 1080, ..."). */
export async function readScreenSize(display: string): Promise<{ width: number; height: number }> {
  const size = parseScreenSize(await runXClient("xrandr", display, ["--current"]));
  if (!size) throw new Error(`xrandr on ${display} reported no screen size`);
  return size;
}

export function parseScreenSize(xrandrOutput: string): { width: number; height: number } | undefined {
  const match = /current (\d+) x (\d+)/.exec(xrandrOutput);
  if (!match?.[1] || !match[2]) return undefined;
  return { width: Number(match[1]), height: Number(match[2]) };
}
