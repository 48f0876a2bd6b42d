/**
 * Command lines that cross a desk's boundary, for the caller to spawn (async, as it likes):
 *
 * - into the desk's cgroup: a two-line shell wrapper writes its own pid to the group's cgroup.procs
 *   and then execs the real program, so the program and everything it forks start inside the group.
 *   Moving a pid after spawn instead leaves a window in which it can fork children that stay outside
 *   (a fork bomb's first generation), since a move never takes children along.
 * - inside the desk: nsenter into every namespace of the sandbox's init, as the desk user, with no
 *   way to gain privileges, and only the desk's environment.
 * - outside, onto the desk's display: libX11 and libxcb (Debian 12's, tried) take no socket path in
 *   DISPLAY, and the desk's abstract socket lives in its own network namespace, so a trusted client (ffmpeg x11grab, xdpyinfo, a desk agent) runs in a mount
 *   namespace of its own where the desk's socket directory is bound onto /tmp/.X11-unix, and uses
 *   `DISPLAY=:N` as usual. Nothing else changes for it: same network, same files, same user.
 */
import { DESK_UID } from "./host-user.ts";

/** A program to spawn: `spawn(file, args, { env })`. */
export interface Command {
  file: string;
  args: string[];
  /** The whole environment the command needs (a fixed system PATH, the display and its cookie). */
  env: Record<string, string>;
}

/** Where the wrappers find sh, nsenter, unshare, mount and setpriv (util-linux), whatever the caller's PATH. */
export const SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Exit code of a wrapper that could not set up its namespace or cgroup (the program never ran). */
export const WRAPPER_FAILED = 125;

/**
 * A bash line that closes every file descriptor above `highest`. Whatever the server inherited
 * without close-on-exec (a supervisor's pipe, a socket-activation fd) would otherwise pass through
 * spawn and bubblewrap into the desk. bash, not sh: dash cannot name a descriptor above 9. No
 * redirection on the loop: bash would keep a copy of the redirected descriptor above 9, which the
 * loop would close.
 */
export function closeFdsAbove(highest: number): string {
  return `for fd in /proc/self/fd/*; do fd=\${fd##*/}; [ "$fd" -gt ${highest} ] && eval "exec $fd>&-"; done`;
}

/** `sh -c JOIN rd-desk-join FILE… -- PROGRAM ARG…`: joins every listed cgroup, then execs. */
const JOIN_CGROUPS = `while [ "$1" != -- ]; do echo $$ >"$1" || exit ${WRAPPER_FAILED}; shift; done; shift; exec "$@"`;

/** argv that runs `argv` in the cgroups whose cgroup.procs files are listed (none: as is). */
export function inCgroups(procsFiles: readonly string[], argv: readonly string[]): string[] {
  if (procsFiles.length === 0) return [...argv];
  return ["sh", "-c", JOIN_CGROUPS, "rd-desk-join", ...procsFiles, "--", ...argv];
}

export interface InsideTarget {
  /** Host pid of the sandbox's init. */
  pid: number;
  procsFiles: readonly string[];
  /** The desk's environment (bwrap-args.ts gives the sandbox the same). */
  env: Record<string, string>;
  /** Whether the server is root (see insideCommand). */
  asRoot: boolean;
}

/**
 * Unprivileged, bubblewrap nests two user namespaces (the outer one maps the server to root to
 * mount /dev/pts, the inner one maps it to the desk's uid) and the sandbox's other namespaces belong
 * to the outer one, in which no process remains. Entering the inner one first would leave no
 * capability in the outer one to enter the rest; only an ioctl names the outer one: NS_GET_PARENT
 * on the init's user namespace. Hence perl (perl-base is Essential on Debian): it opens the outer
 * namespace, then execs nsenter into it and the init's other namespaces, then into the inner one
 * (PID 1 there, as /proc is now the sandbox's).
 */
const ENTER_THROUGH_OUTER_USERNS = [
  "use Fcntl;",
  "my ($pid, @cmd) = @ARGV;",
  'open(my $ns, "<", "/proc/$pid/ns/user") or die "rd-desk: $!";',
  // NS_GET_PARENT = _IO(0xb7, 0x2); the new descriptor is close-on-exec until told otherwise.
  'my $fd = (ioctl($ns, 0xb702, 0) or die "rd-desk: NS_GET_PARENT: $!") + 0;',
  'open(my $outer, "<&=", $fd) or die "rd-desk: $!";',
  'fcntl($outer, F_SETFD, 0) or die "rd-desk: $!";',
  'exec("nsenter", "--user=/proc/self/fd/$fd", "--target", $pid, "--mount", "--pid", "--net", "--ipc", "--uts",',
  '  "--cgroup", "--root", "--wd", "--preserve-credentials", "--",',
  '  "nsenter", "--target", "1", "--user", "--preserve-credentials", "--", @cmd) or die "rd-desk: $!";',
].join("\n");

/**
 * A program run inside a desk: its namespaces (user, mount and root, PID, network, IPC, UTS,
 * cgroup), its cgroup, uid 1000, no new privileges, the desk's environment only (`env -i`) and
 * stdin, stdout and stderr only, whatever environment and descriptors the caller spawns it with.
 * As root, nsenter enters every namespace of the init at once and takes the desk's uid; otherwise
 * see ENTER_THROUGH_OUTER_USERNS (the server's own uid is the desk's uid inside).
 */
export function insideCommand(target: InsideTarget, argv: readonly string[]): Command {
  if (argv.length === 0 || argv[0]?.includes("="))
    throw new Error("insideCommand: argv[0] must be a program name");
  const program = [
    "setpriv",
    "--no-new-privs",
    "--",
    "env",
    "-i",
    ...Object.entries(target.env).map(([k, v]) => `${k}=${v}`),
    ...["bash", "-c", `${closeFdsAbove(2)}; exec "$@"`, "rd-desk-exec", ...argv],
  ];
  const enter = target.asRoot
    ? [
        "nsenter",
        ...["--target", String(target.pid), "--all", "--root", "--wd"],
        ...["--setuid", String(DESK_UID), "--setgid", String(DESK_UID)],
        "--",
      ]
    : ["perl", "-e", ENTER_THROUGH_OUTER_USERNS, String(target.pid)];
  const [file = "", ...args] = inCgroups(target.procsFiles, [...enter, ...program]);
  return { file, args, env: { PATH: SYSTEM_PATH } };
}

export interface OutsideTarget {
  /** The host directory holding the desk's X socket. */
  socketDir: string;
  displayNumber: number;
  /** Host path of the desk's Xauthority file. */
  xauthority: string;
  /** Host path of the desk's screen file (Xvfb `-fbdir`), for the desk agent's capture. */
  framebuffer?: string;
  asRoot: boolean;
  /** The caller's uid and gid, kept for the program when a user namespace is needed (not root). */
  uid: number;
  gid: number;
}

/**
 * The mount-namespace wrapper: refuses to run when an X server of the host holds the display's
 * abstract socket (libxcb would connect there first), binds the socket directory, execs.
 */
const BIND_X11 = [
  `grep -qE " @/tmp/\\.X11-unix/X$1\\$" /proc/net/unix && { echo "display :$1 is taken by an X server of this host" >&2; exit ${WRAPPER_FAILED}; }`,
  `{ [ -d /tmp/.X11-unix ] || mkdir -p -m 1777 /tmp/.X11-unix; } && mount --bind "$0" /tmp/.X11-unix || exit ${WRAPPER_FAILED}`,
  'shift; exec "$@"',
].join("\n");

/**
 * A trusted program outside the desk that reaches its display: `DISPLAY=:N` and the cookie, in a
 * mount namespace of its own. As root that takes `unshare --mount`; otherwise a user namespace that
 * maps the caller to root for the bind, and a nested one that maps it back to its own uid.
 */
export function outsideCommand(target: OutsideTarget, argv: readonly string[]): Command {
  if (argv.length === 0) throw new Error("outsideCommand: argv must name a program");
  const program = target.asRoot
    ? [...argv]
    : ["unshare", `--map-user=${target.uid}`, `--map-group=${target.gid}`, "--", ...argv];
  const unshare = target.asRoot
    ? ["unshare", "--mount", "--propagation", "private"]
    : ["unshare", "--map-root-user", "--mount", "--propagation", "private"];
  return {
    file: unshare[0] ?? "unshare",
    args: [
      ...unshare.slice(1),
      "--",
      "sh",
      "-c",
      BIND_X11,
      target.socketDir,
      String(target.displayNumber),
      ...program,
    ],
    env: {
      PATH: SYSTEM_PATH,
      DISPLAY: `:${target.displayNumber}`,
      XAUTHORITY: target.xauthority,
      ...(target.framebuffer ? { RD_AGENT_FRAMEBUFFER: target.framebuffer } : {}),
    },
  };
}
