/**
 * The X authorization cookie of a desk's X server: a random MIT-MAGIC-COOKIE-1 in an Xauthority
 * file that Xvfb inside the sandbox is started with (`-auth`) and that trusted clients outside use
 * (XAUTHORITY). The format is libXau's, as in apps/agent/src/x-authority.ts; it is written here
 * rather than imported because a package must not reach into an app, and the desk's file needs an
 * owner and a place of its own (the per-desk directory) rather than the agent's private temp dir.
 */
import { randomBytes } from "node:crypto";
import { open } from "node:fs/promises";
import type { HostUser } from "./host-user.ts";

/** libXau's FamilyWild: matches whatever address a client reaches the display by. */
const FAMILY_WILD = 0xffff;
const MIT_MAGIC_COOKIE = "MIT-MAGIC-COOKIE-1";
/** 16 bytes, as `xauth generate` and display managers make it. */
const COOKIE_BYTES = 16;

/** One Xauthority entry: a big-endian u16 family, then four u16-length-prefixed fields. */
export function encodeXauthEntry(displayNumber: number, cookie: Buffer): Buffer {
  const counted = (bytes: Buffer) => {
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return [length, bytes];
  };
  const family = Buffer.alloc(2);
  family.writeUInt16BE(FAMILY_WILD);
  return Buffer.concat([
    family,
    ...counted(Buffer.alloc(0)),
    ...counted(Buffer.from(String(displayNumber), "ascii")),
    ...counted(Buffer.from(MIT_MAGIC_COOKIE, "ascii")),
    ...counted(cookie),
  ]);
}

/**
 * Writes a fresh cookie for display `:displayNumber` to a new file (never over an existing one),
 * readable only by `owner` (the desk's host user, whose X server reads it) or by the server itself.
 * Read-only even for its owner: the sandbox sees it through a read-only bind anyway.
 */
export async function writeXCookie(file: string, displayNumber: number, owner?: HostUser): Promise<void> {
  const handle = await open(file, "wx", 0o600);
  try {
    await handle.writeFile(encodeXauthEntry(displayNumber, randomBytes(COOKIE_BYTES)));
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.chmod(0o400);
  } finally {
    await handle.close();
  }
}
