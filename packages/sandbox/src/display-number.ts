/**
 * The X display number of a desk. Inside its sandbox a desk could use any number, but its trusted
 * clients outside reach it as `DISPLAY=:N` from the host's network namespace, where libxcb tries the
 * abstract socket `@/tmp/.X11-unix/XN` before the socket file: a host X server on the same number
 * would answer instead of the desk. So the number is one no X server of this host uses. Every desk
 * may share it: their clients each see only their own desk's socket directory.
 */
import { readdir, readFile } from "node:fs/promises";

/** Well above the agent's virtual displays (:90 and up) and a workstation's :0/:1. */
export const FIRST_DESK_DISPLAY = 1000;
/** How many numbers to try; a host with a thousand X servers has other problems. */
const DISPLAY_RANGE = 1000;

/**
 * The display numbers in use on this host: X sockets in `/proc/net/unix` (abstract and file, of
 * this network namespace), socket files in /tmp/.X11-unix and lock files /tmp/.XN-lock.
 */
export function displaysInUse(procNetUnix: string, x11Entries: string[], tmpEntries: string[]): Set<number> {
  const used = new Set<number>();
  for (const match of procNetUnix.matchAll(/ @?\/tmp\/\.X11-unix\/X(\d+)$/gm)) used.add(Number(match[1]));
  for (const name of x11Entries) {
    const match = /^X(\d+)$/.exec(name);
    if (match) used.add(Number(match[1]));
  }
  for (const name of tmpEntries) {
    const match = /^\.X(\d+)-lock$/.exec(name);
    if (match) used.add(Number(match[1]));
  }
  return used;
}

/** The first display number from FIRST_DESK_DISPLAY that no X server of this host uses. */
export async function freeDisplayNumber(): Promise<number> {
  const [procNetUnix, x11Entries, tmpEntries] = await Promise.all([
    readFile("/proc/net/unix", "utf8").catch(() => ""),
    readdir("/tmp/.X11-unix").catch(() => []),
    readdir("/tmp").catch(() => []),
  ]);
  const used = displaysInUse(procNetUnix, x11Entries, tmpEntries);
  for (let n = FIRST_DESK_DISPLAY; n < FIRST_DESK_DISPLAY + DISPLAY_RANGE; n++) {
    if (!used.has(n)) return n;
  }
  throw new Error(
    `no free X display number between :${FIRST_DESK_DISPLAY} and :${FIRST_DESK_DISPLAY + DISPLAY_RANGE - 1}`,
  );
}
