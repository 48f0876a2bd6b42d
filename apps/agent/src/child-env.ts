/**
 * The environment of every program the agent starts (ffmpeg, xclip, xmessage, the X tools, Xvfb
 * and the programs of a virtual desktop), built here and nowhere else. Never the agent's whole
 * environment: that may hold secrets (the dashboard's, when it runs the demo agent) and has no
 * business in a terminal on a screen someone else watches. What passes is what the programs need:
 * PATH to find each other, HOME (a window manager's settings, the default ~/.Xauthority), the
 * locale (xterm and xclip read and write UTF-8 only under one), and the X display with the file
 * that authorizes connecting to it.
 */

/** What passes from the agent's own environment. */
const PASSED = /^(PATH|HOME|LANG|LANGUAGE|LC_[A-Z]+)$/;

/** The Xauthority file of each display this process started (virtual-display.ts). */
const authorities = new Map<string, string>();

/**
 * Records that `file` authorizes connections to `display`, an X server this process started;
 * returns a function that forgets it (when the display stops).
 */
export function useXAuthority(display: string, file: string): () => void {
  authorities.set(display, file);
  return () => {
    if (authorities.get(display) === file) authorities.delete(display);
  };
}

/**
 * The Xauthority file for `display`: the cookie of a display this process started, or else
 * whatever the agent was given (the desktop session's XAUTHORITY; unset, libX11 reads
 * ~/.Xauthority).
 */
export function xAuthorityFor(
  display: string | undefined,
  from: NodeJS.ProcessEnv = process.env,
): string | undefined {
  return (display && authorities.get(display)) || from.XAUTHORITY || undefined;
}

/**
 * The environment for a program the agent starts, on `display` when it is an X client. `from` is
 * the agent's own environment; a test hands another.
 */
export function childEnv(display?: string, from: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries(from)) {
    if (value !== undefined && PASSED.test(key)) env[key] = value;
  }
  if (display) {
    env.DISPLAY = display;
    const xauthority = xAuthorityFor(display, from);
    if (xauthority) env.XAUTHORITY = xauthority;
  }
  return env;
}
