/**
 * X authorization for the X servers this agent starts: a random MIT-MAGIC-COOKIE-1 in an
 * Xauthority file (0600, in a private 0700 directory) that the server is started with (`-auth`)
 * and that the agent's own X clients are pointed at (XAUTHORITY, see child-env.ts). Without one an
 * X server admits every local user, who could then read the screen and type into its shell.
 *
 * The file is written here rather than with `xauth`, which would be one more package to install.
 * Its format is libXau's (XauWriteAuth): per entry a big-endian u16 family, then address, display
 * number, protocol name and data, each a big-endian u16 length followed by that many bytes.
 */
import { randomBytes } from "node:crypto";
import { rmSync } from "node:fs";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";

/**
 * libXau's FamilyWild: the entry matches the display whatever the address a client reaches it by,
 * so a host name change cannot lock our own clients out (`xauth` writes the host name instead).
 */
export const FAMILY_WILD = 0xffff;
export const MIT_MAGIC_COOKIE = "MIT-MAGIC-COOKIE-1";
/** The cookie's length in bytes, as `xauth generate` and display managers make it. */
const COOKIE_BYTES = 16;

export interface XauthEntry {
  family: number;
  address: Buffer;
  /** The display number, as decimal text ("90"). */
  number: string;
  name: string;
  data: Buffer;
}

export interface XAuthority {
  /** The Xauthority file: for the server's `-auth` and the clients' XAUTHORITY. */
  file: string;
  /** Deletes the file and its directory; safe to call twice. */
  remove(): void;
}

/** Directories still on disk, deleted synchronously if the process exits without removing them. */
const live = new Set<string>();
process.on("exit", () => {
  for (const dir of live) rmSync(dir, { recursive: true, force: true });
});

/** One entry in the Xauthority file format. */
export function encodeXauthEntry(entry: XauthEntry): Buffer {
  const counted = (bytes: Buffer) => {
    if (bytes.length > 0xffff) throw new RangeError("an Xauthority field holds at most 65535 bytes");
    const length = Buffer.alloc(2);
    length.writeUInt16BE(bytes.length);
    return [length, bytes];
  };
  const family = Buffer.alloc(2);
  family.writeUInt16BE(entry.family);
  return Buffer.concat([
    family,
    ...counted(entry.address),
    ...counted(Buffer.from(entry.number, "ascii")),
    ...counted(Buffer.from(entry.name, "ascii")),
    ...counted(entry.data),
  ]);
}

/**
 * Makes a fresh random cookie for display `:displayNumber` and writes it to a new Xauthority file
 * in a directory of its own that only this user may enter.
 */
export async function createXAuthority(displayNumber: number): Promise<XAuthority> {
  // mkdtemp creates the directory 0700.
  const dir = await mkdtemp(path.join(tmpdir(), "rd-xauth-"));
  live.add(dir);
  const remove = () => {
    live.delete(dir);
    rmSync(dir, { recursive: true, force: true });
  };
  const file = path.join(dir, "Xauthority");
  try {
    const entry = encodeXauthEntry({
      family: FAMILY_WILD,
      address: Buffer.alloc(0),
      number: String(displayNumber),
      name: MIT_MAGIC_COOKIE,
      data: randomBytes(COOKIE_BYTES),
    });
    await writeFile(file, entry, { mode: 0o600, flag: "wx" });
  } catch (error) {
    remove();
    throw error;
  }
  return { file, remove };
}
