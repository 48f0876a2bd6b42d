/**
 * The viewer's own keyboard shortcuts. While the viewer has focus every key goes to the remote
 * machine, so the viewer keeps only Ctrl+Alt+Shift+<letter>: a chord no common application or OS
 * uses, and one the browser lets a page see.
 */

export const SHORTCUTS = {
  KeyF: { action: "fullscreen", label: "Full screen on/off" },
  KeyS: { action: "scale", label: "Scale to fit / 1:1" },
  KeyV: { action: "viewOnly", label: "View only on/off (gives up control, or asks for it back)" },
  KeyR: {
    action: "takeControl",
    label: "Ask for control (take it, if you opened the session or are an admin)",
  },
  KeyG: { action: "giveControl", label: "Give control to whoever asked first" },
  KeyI: { action: "stats", label: "Statistics on/off" },
  KeyC: { action: "sendClipboard", label: "Send your clipboard" },
  KeyT: { action: "focusToolbar", label: "Move focus to the toolbar (keys stay here)" },
} as const;

export type ShortcutAction = (typeof SHORTCUTS)[keyof typeof SHORTCUTS]["action"];

type ChordEvent = Pick<KeyboardEvent, "code" | "ctrlKey" | "altKey" | "shiftKey" | "metaKey">;

/** The viewer action `event` asks for, or null when the key belongs to the remote machine. */
export function shortcutFor(event: ChordEvent): ShortcutAction | null {
  if (!(event.ctrlKey && event.altKey && event.shiftKey) || event.metaKey) return null;
  return (SHORTCUTS as Record<string, { action: ShortcutAction }>)[event.code]?.action ?? null;
}

/** "Ctrl+Alt+Shift+F" for an action, for tooltips and aria-keyshortcuts. */
export function chordFor(action: ShortcutAction): string {
  const code = Object.entries(SHORTCUTS).find(([, s]) => s.action === action)?.[0] ?? "";
  return `Ctrl+Alt+Shift+${code.replace(/^Key/, "")}`;
}

/** One line per shortcut, for the toolbar's help tooltip. */
export const SHORTCUT_HELP = Object.values(SHORTCUTS)
  .map((s) => `${chordFor(s.action)}: ${s.label}`)
  .join("\n");
