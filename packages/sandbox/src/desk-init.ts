/**
 * The first program of a desk's sandbox: a bash script that starts the X server, tells the
 * server outside when it accepts connections, waits for the go-ahead (the server locks the socket
 * directory first), then starts the desk's programs and lives as long as the X server does. When it
 * exits, bubblewrap's init exits and the kernel kills everything left in the PID namespace.
 *
 * File descriptors, as startDeskSandbox spawns bubblewrap: 0 = the go-ahead pipe, 2 = the X
 * server's diagnostics, 3 = the ready pipe (the display number is written to it), 4 = bubblewrap's
 * info fd. Every descriptor but 0–3 is closed first: nothing in the desk needs bwrap's info fd, nor
 * anything the server inherited.
 */
import { closeFdsAbove } from "./namespace-commands.ts";

export interface DeskInitOptions {
  displayNumber: number;
  width: number;
  height: number;
  /** Where the X server's cookie is inside the sandbox. */
  xauthority: string;
  /** A directory for the X server to keep its screen in (`-fbdir`), made by the script. */
  framebufferDir: string;
  programs: readonly (readonly string[])[];
}

/** The file Xvfb keeps screen 0 in, in its `-fbdir` directory. */
export const XVFB_SCREEN_FILE = "Xvfb_screen0";

/** Exit codes of the script, so that the server can say which step failed. */
export const INIT_EXIT = { fifo: 121, xServer: 122, noGoAhead: 123 } as const;

/** Quotes one argument for a POSIX shell (and bash): single quotes, each ' written as '\''. */
export function shellQuote(arg: string): string {
  return `'${arg.replaceAll("'", `'\\''`)}'`;
}

export function deskInitScript(options: DeskInitOptions): string {
  const { displayNumber, width, height, xauthority, framebufferDir, programs } = options;
  const xvfb = [
    "Xvfb",
    `:${displayNumber}`,
    ...["-screen", "0", `${width}x${height}x24`],
    ...["-auth", xauthority],
    // No TCP (there is no network anyway); keep pointer and keyboard state when the last client
    // goes; say on fd 5 when ready, so nobody polls for the socket.
    ...["-nolisten", "tcp", "-noreset", "-displayfd", "5"],
    // The screen in a file the agent outside reads instead of asking for pixels over the socket.
    ...["-fbdir", framebufferDir],
  ];
  const lines = [
    closeFdsAbove(3),
    `mkfifo /tmp/.rd-x-ready && mkdir -m 700 ${shellQuote(framebufferDir)} || exit ${INIT_EXIT.fifo}`,
    // The FIFO's write end belongs to Xvfb alone: should it die before it is ready, the read below
    // sees end-of-file instead of waiting forever.
    `${xvfb.map(shellQuote).join(" ")} 5>/tmp/.rd-x-ready 3>&- </dev/null >/dev/null &`,
    "xvfb=$!",
    `read -r display </tmp/.rd-x-ready || exit ${INIT_EXIT.xServer}`,
    "rm -f /tmp/.rd-x-ready",
    'echo "$display" >&3',
    "exec 3>&-",
    // The go-ahead: the server has made the socket directory unwritable. A program started before
    // it could keep a file open in that host directory and fill the disk through it.
    `read -r go || exit ${INIT_EXIT.noGoAhead}`,
    "exec </dev/null",
    ...programs.map((argv) => `( exec ${argv.map(shellQuote).join(" ")} ) </dev/null >/dev/null 2>&1 &`),
    'wait "$xvfb"',
  ];
  return lines.join("\n");
}
