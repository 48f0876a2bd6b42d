/**
 * The bubblewrap command line of a desk: its namespaces and the filesystem it sees. Nothing of the
 * host is bound broadly: /usr read-only (with the /bin, /lib… links or directories beside it), a
 * short list of /etc entries that programs need and that hold no secrets, and generated
 * passwd/group/hosts files. Home and /tmp are empty tmpfs, the X socket directory is the desk's own.
 * Paths the caller names as forbidden (the dashboard's data directory…) are checked against this:
 * one inside a bound tree is masked, a bound tree inside one is an error.
 *
 * Pure: the host is probed first (probeHostRoot, resolveForbidden) so that this can be tested alone.
 */
import { lstat, readlink, realpath } from "node:fs/promises";
import path from "node:path";
import { GENERATED_ETC } from "./desk-dir.ts";
import { DESK_UID } from "./host-user.ts";

/** What a top-level path of the host is: merged-/usr systems have /bin → usr/bin links. */
export type RootEntry = { path: string; kind: "dir" } | { path: string; kind: "symlink"; target: string };

/** A forbidden path as found on the host (its real path, symlinks resolved). */
export type ForbiddenPath = { path: string; kind: "dir" | "file" | "missing" };

export interface BwrapPlan {
  /** /bin, /sbin, /lib… as probeHostRoot found them. */
  hostRoot: RootEntry[];
  forbidden: ForbiddenPath[];
  /** Host paths of the desk's own files (desk-dir.ts). */
  x11Dir: string;
  xauthority: string;
  etcDir: string;
  /** Size of each of the desk's tmpfs (home, /tmp), in bytes. */
  scratchBytes: number;
  /** The sandbox's whole environment. */
  env: Record<string, string>;
  /** The fd bubblewrap writes the sandbox's pids and namespaces to (JSON). */
  infoFd: number;
  /** The desk's first program, e.g. ["bash", "-c", script]. */
  command: string[];
}

/** Top-level paths that hold programs and libraries beside /usr (links to it on merged-/usr systems). */
export const ROOT_LINKS = ["/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"];

/**
 * /etc entries a desk's programs need and that hold nothing private: the dynamic linker's cache,
 * Debian's alternatives (x-terminal-emulator, editor… are links through it), fonts, X11 app
 * defaults and fluxbox's menus, the time zone, shell and editor defaults, terminal descriptions.
 */
export const ETC_ENTRIES = [
  "/etc/ld.so.cache",
  "/etc/alternatives",
  "/etc/fonts",
  "/etc/X11",
  "/etc/localtime",
  "/etc/bash.bashrc",
  "/etc/profile",
  "/etc/inputrc",
  "/etc/nanorc",
  "/etc/terminfo",
];

/** Where the desk's files appear inside the sandbox. */
export const INSIDE = {
  home: "/home/desk",
  x11: "/tmp/.X11-unix",
  xauthority: "/run/desk/Xauthority",
  /** Where Xvfb keeps its screen (`-fbdir`), in the desk's own /tmp (memory it is charged for). */
  framebufferDir: "/tmp/.rd-screen",
} as const;

/** Whether `inner` is `outer` or lies under it. */
export function isWithin(inner: string, outer: string): boolean {
  const relative = path.relative(outer, inner);
  return relative === "" || (!relative.startsWith("..") && !path.isAbsolute(relative));
}

/** Reads what the top-level program and library paths are on this host. */
export async function probeHostRoot(): Promise<RootEntry[]> {
  const entries = await Promise.all(
    ROOT_LINKS.map(async (p): Promise<RootEntry | undefined> => {
      const stat = await lstat(p).catch(() => undefined);
      if (stat?.isSymbolicLink()) return { path: p, kind: "symlink", target: await readlink(p) };
      if (stat?.isDirectory()) return { path: p, kind: "dir" };
      return undefined;
    }),
  );
  return entries.filter((e): e is RootEntry => e !== undefined);
}

/** Resolves forbidden paths to their real paths, and keeps the given path too when it differs. */
export async function resolveForbidden(paths: readonly string[]): Promise<ForbiddenPath[]> {
  const resolved: ForbiddenPath[] = [];
  for (const given of paths) {
    const absolute = path.resolve(given);
    const real = await realpath(absolute).catch(() => absolute);
    for (const p of new Set([real, absolute])) {
      const stat = await lstat(p).catch(() => undefined);
      const kind = stat === undefined ? "missing" : stat.isDirectory() ? "dir" : "file";
      resolved.push({ path: p, kind });
    }
  }
  return resolved;
}

/** The host trees every desk sees, read-only. */
function systemBinds(plan: BwrapPlan): string[] {
  return ["/usr", ...plan.hostRoot.filter((e) => e.kind === "dir").map((e) => e.path), ...ETC_ENTRIES];
}

/**
 * Masks for forbidden paths inside a bound tree: an empty tmpfs over a directory, /dev/null over a
 * file. Throws when a bound tree lies inside a forbidden path (no desk could run without it), or a
 * forbidden path inside one does not exist yet (it could appear later, unmasked).
 */
export function forbiddenMasks(plan: BwrapPlan): string[] {
  const masks: string[] = [];
  for (const forbidden of plan.forbidden) {
    for (const bound of systemBinds(plan)) {
      if (isWithin(bound, forbidden.path)) {
        throw new Error(`forbidden path ${forbidden.path} holds ${bound}, which every desk needs`);
      }
      if (!isWithin(forbidden.path, bound)) continue;
      if (forbidden.kind === "missing") {
        throw new Error(
          `forbidden path ${forbidden.path} lies inside ${bound} but does not exist yet: cannot mask it`,
        );
      }
      masks.push(
        ...(forbidden.kind === "dir"
          ? ["--tmpfs", forbidden.path]
          : ["--ro-bind", "/dev/null", forbidden.path]),
      );
    }
  }
  return masks;
}

export function bwrapArgs(plan: BwrapPlan): string[] {
  const namespaces = [
    // Every namespace: user (uid 1000 inside), PID, IPC, UTS, cgroup and network (only loopback,
    // which reaches nothing of the host's). --unshare-user is explicit so that a kernel without
    // user namespaces is an error, not a silently weaker sandbox.
    "--unshare-all",
    "--unshare-user",
    ...["--uid", String(DESK_UID), "--gid", String(DESK_UID)],
    // No user namespaces inside: the way to capabilities that most kernel exploits need.
    "--disable-userns",
    "--cap-drop",
    "ALL",
    // A session of its own: no TIOCSTI into a terminal outside.
    "--new-session",
    // The server's death (a crash) kills the desk; reapDeskSandboxes removes what remains on disk.
    "--die-with-parent",
    ...["--hostname", "desk"],
  ];
  const root = [
    ...["--ro-bind", "/usr", "/usr"],
    ...plan.hostRoot.flatMap((e) =>
      e.kind === "symlink" ? ["--symlink", e.target, e.path] : ["--ro-bind", e.path, e.path],
    ),
    ...ETC_ENTRIES.flatMap((p) => ["--ro-bind-try", p, p]),
    ...GENERATED_ETC.flatMap((name) => ["--ro-bind", path.join(plan.etcDir, name), `/etc/${name}`]),
    ...forbiddenMasks(plan),
    ...["--proc", "/proc", "--dev", "/dev"],
    ...["--perms", "1777", "--size", String(plan.scratchBytes), "--tmpfs", "/tmp"],
    ...["--bind", plan.x11Dir, INSIDE.x11],
    ...["--perms", "0700", "--size", String(plan.scratchBytes), "--tmpfs", INSIDE.home],
    ...["--ro-bind", plan.xauthority, INSIDE.xauthority],
    // The root itself (bubblewrap's tmpfs) read-only: only home and /tmp are writable.
    ...["--remount-ro", "/"],
  ];
  const env = ["--clearenv", ...Object.entries(plan.env).flatMap(([k, v]) => ["--setenv", k, v])];
  return [
    ...namespaces,
    ...root,
    ...env,
    ...["--chdir", INSIDE.home],
    ...["--info-fd", String(plan.infoFd)],
    "--",
    ...plan.command,
  ];
}
