/**
 * A desk's directory on the host, `<baseDir>/<id>`: the X socket directory (bound onto the
 * sandbox's /tmp/.X11-unix), the X cookie, the few /etc files the sandbox gets instead of the
 * host's, and the state a crash leaves for reapDeskSandboxes. The desk's home and /tmp are not
 * here: they are tmpfs inside the sandbox, so that what a candidate writes counts against the desk's
 * memory limit rather than filling the host's disk.
 *
 * Ownership, when the server is root: the base and desk directories are root's and 0711 (the
 * desk's host user, which bubblewrap runs as, must pass through them to reach its files, and no one
 * else can list them); the socket directory is the desk user's until the X server has made its
 * socket, then root's and read-only (lockSocketDir); the cookie is the desk user's and 0400.
 */
import { chmod, chown, lstat, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import type { DeskCgroup } from "./cgroup.ts";
import { DESK_UID, type HostUser } from "./host-user.ts";

export interface DeskPaths {
  root: string;
  /** The X socket directory, the sandbox's /tmp/.X11-unix. */
  x11: string;
  /** The Xauthority file with the X server's cookie. */
  xauthority: string;
  /** passwd, group, hosts, nsswitch.conf for the sandbox's /etc. */
  etc: string;
  /** desk.json: what reapDeskSandboxes needs after a crash. */
  state: string;
}

/** What a running desk leaves on disk for reapDeskSandboxes. */
export interface DeskState {
  id: string;
  cgroup?: DeskCgroup;
  /** Host pid of the sandbox's init, with its start time (/proc/PID/stat) to tell a reused pid apart. */
  pid?: number;
  pidStart?: string;
}

/** The files of the sandbox's /etc that are generated, never the host's (its users, its hosts). */
export const GENERATED_ETC = ["passwd", "group", "hosts", "nsswitch.conf"] as const;

export function deskPaths(baseDir: string, id: string): DeskPaths {
  const root = path.join(baseDir, id);
  return {
    root,
    x11: path.join(root, "x11"),
    xauthority: path.join(root, "Xauthority"),
    etc: path.join(root, "etc"),
    state: path.join(root, "desk.json"),
  };
}

/** 0711 when desks run as users of their own (they must pass through), else owner-only. */
function dirMode(user: HostUser | undefined): number {
  return user ? 0o711 : 0o700;
}

/**
 * Creates the base directory or checks the one there: a real directory (not a symlink) that this
 * process's user owns. The default lives in the shared /tmp, where anyone could have made it first.
 */
export async function ensureBaseDir(baseDir: string, user: HostUser | undefined): Promise<void> {
  await mkdir(baseDir, { recursive: true, mode: dirMode(user) });
  const stat = await lstat(baseDir);
  if (!stat.isDirectory() || stat.uid !== process.getuid?.()) {
    throw new Error(`desk base directory ${baseDir} is not a directory of this user's: refusing to use it`);
  }
  if ((stat.mode & 0o777) !== dirMode(user)) await chmod(baseDir, dirMode(user));
}

function etcFiles(): Record<(typeof GENERATED_ETC)[number], string> {
  return {
    passwd: [
      "root:x:0:0:root:/root:/usr/sbin/nologin",
      `desk:x:${DESK_UID}:${DESK_UID}:Interview desk:/home/desk:/bin/bash`,
      // Host files whose owner is not mapped into the sandbox show as 65534.
      "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin",
      "",
    ].join("\n"),
    group: ["root:x:0:", `desk:x:${DESK_UID}:`, "nogroup:x:65534:", ""].join("\n"),
    hosts: ["127.0.0.1 localhost", "127.0.1.1 desk", "::1 localhost", ""].join("\n"),
    "nsswitch.conf": ["passwd: files", "group: files", "hosts: files", ""].join("\n"),
  };
}

/** Creates the desk's directory; fails when it exists (a running desk, or a crash's leftovers). */
export async function createDeskDir(paths: DeskPaths, user: HostUser | undefined): Promise<void> {
  try {
    await mkdir(paths.root, { mode: dirMode(user) });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "EEXIST") {
      throw new Error(
        `desk ${path.basename(paths.root)} exists already: stop it, or reap a crashed server's desks`,
        { cause: error },
      );
    }
    throw error;
  }
  await chmod(paths.root, dirMode(user));
  await mkdir(paths.x11, { mode: 0o700 });
  if (user) await chown(paths.x11, user.uid, user.gid);
  // Modes set explicitly: the umask (an agent runs under 077) must not make them unreadable to
  // the desk's own host user, which reads them when bubblewrap binds them.
  await mkdir(paths.etc, { mode: 0o755 });
  await chmod(paths.etc, 0o755);
  await Promise.all(
    Object.entries(etcFiles()).map(async ([name, text]) => {
      const file = path.join(paths.etc, name);
      await writeFile(file, text, { mode: 0o644 });
      await chmod(file, 0o644);
    }),
  );
}

/**
 * Once the X server has made its socket: the socket directory becomes the server's and read-only,
 * so the desk cannot write files into this host directory (the socket works as before).
 */
export async function lockSocketDir(paths: DeskPaths): Promise<void> {
  const uid = process.getuid?.();
  const gid = process.getgid?.();
  if (uid !== undefined && gid !== undefined) await chown(paths.x11, uid, gid);
  await chmod(paths.x11, 0o555);
}

/** Replaces desk.json in one step (write, then rename), so a crash never leaves half of it. */
export async function writeDeskState(paths: DeskPaths, state: DeskState): Promise<void> {
  const temporary = `${paths.state}.new`;
  await writeFile(temporary, JSON.stringify(state), { mode: 0o600 });
  await rename(temporary, paths.state);
}

export async function readDeskState(paths: DeskPaths): Promise<DeskState | undefined> {
  try {
    return JSON.parse(await readFile(paths.state, "utf8")) as DeskState;
  } catch {
    return undefined;
  }
}

export async function removeDeskDir(paths: DeskPaths): Promise<void> {
  // Writable again, so that a server that is not root can delete the socket in it.
  await chmod(paths.x11, 0o700).catch(() => {});
  await rm(paths.root, { recursive: true, force: true });
}
