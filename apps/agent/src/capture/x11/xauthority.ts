/**
 * The MIT-MAGIC-COOKIE-1 for a display, read from an Xauthority file (the format libXau writes:
 * repeated records of a 16-bit family, then address, display number, auth name and auth data,
 * each a 16-bit big-endian length followed by that many bytes).
 */
import { readFile } from "node:fs/promises";
import { hostname } from "node:os";

export interface XAuthEntry {
  family: number;
  address: string;
  number: string;
  name: string;
  data: Buffer;
}

/** FamilyLocal (a Unix socket on this host) and FamilyWild (any address), as libXau numbers them. */
const FAMILY_LOCAL = 256;
const FAMILY_WILD = 65535;
const COOKIE = "MIT-MAGIC-COOKIE-1";

export function parseXAuthority(file: Buffer): XAuthEntry[] {
  const entries: XAuthEntry[] = [];
  let at = 0;
  const field = () => {
    if (at + 2 > file.length) throw new Error("the Xauthority file is truncated");
    const length = file.readUInt16BE(at);
    if (at + 2 + length > file.length) throw new Error("the Xauthority file is truncated");
    const value = file.subarray(at + 2, at + 2 + length);
    at += 2 + length;
    return value;
  };
  while (at < file.length) {
    if (at + 2 > file.length) throw new Error("the Xauthority file is truncated");
    const family = file.readUInt16BE(at);
    at += 2;
    const address = field().toString("latin1");
    const number = field().toString("latin1");
    const name = field().toString("latin1");
    const data = Buffer.from(field());
    entries.push({ family, address, number, name, data });
  }
  return entries;
}

/**
 * The cookie for display `number` over a local socket: as libX11 picks it (an entry for this host or
 * a wildcard, for that display or any), else any local entry for that display. The fallback is for
 * a desktop whose Xauthority was written inside a sandbox with a hostname of its own. Undefined:
 * connect without one.
 */
export function pickCookie(entries: XAuthEntry[], number: string, host = hostname()): Buffer | undefined {
  const cookies = entries.filter((e) => e.name === COOKIE && (e.number === number || e.number === ""));
  const exact = cookies.find(
    (e) => e.family === FAMILY_WILD || (e.family === FAMILY_LOCAL && e.address === host),
  );
  return (exact ?? cookies.find((e) => e.family === FAMILY_LOCAL))?.data;
}

/** Reads `file` (missing: no cookie) and picks the cookie for display `number`. */
export async function readCookie(file: string | undefined, number: string): Promise<Buffer | undefined> {
  if (!file) return undefined;
  let content: Buffer;
  try {
    content = await readFile(file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  return pickCookie(parseXAuthority(content), number);
}
