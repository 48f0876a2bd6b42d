/**
 * The replay page's keyboard: Space plays or pauses, ←/→ step 5 s, J/K/L go back 10 s, pause and
 * go forward 10 s (the video players' convention). Never while typing in a field, never with
 * Ctrl/Alt/Meta (the browser's own shortcuts), and Space and Enter are left to a focused button or
 * link, which they press.
 */

export type ReplayKeyAction = { kind: "toggle" } | { kind: "pause" } | { kind: "step"; ms: number };

export const SMALL_STEP_MS = 5000;
export const LARGE_STEP_MS = 10_000;

/** The replay shortcuts, for the page's help line. */
export const REPLAY_KEYS_HELP = "Space: play/pause · ←/→: 5 s · J/K/L: back 10 s / pause / forward 10 s";

/** What the key pressed is aimed at, as the page sees it. */
export interface KeyTarget {
  tagName: string;
  isContentEditable?: boolean;
  /** The element's role attribute, if any. */
  role?: string | null;
}

type KeyEvent = Pick<KeyboardEvent, "key" | "ctrlKey" | "altKey" | "metaKey">;

const TYPING = new Set(["INPUT", "TEXTAREA", "SELECT"]);
/** Elements Space activates by itself. */
const PRESSABLE = new Set(["BUTTON", "A", "SUMMARY"]);

/** The replay action for `event` aimed at `target`, or null when the key is not the player's. */
export function replayKeyAction(event: KeyEvent, target: KeyTarget | null): ReplayKeyAction | null {
  if (event.ctrlKey || event.altKey || event.metaKey) return null;
  if (target && (TYPING.has(target.tagName) || target.isContentEditable || target.role === "textbox"))
    return null;
  switch (event.key) {
    case " ":
    case "Spacebar":
      if (target && (PRESSABLE.has(target.tagName) || target.role === "button")) return null;
      return { kind: "toggle" };
    case "ArrowLeft":
      return { kind: "step", ms: -SMALL_STEP_MS };
    case "ArrowRight":
      return { kind: "step", ms: SMALL_STEP_MS };
    case "j":
    case "J":
      return { kind: "step", ms: -LARGE_STEP_MS };
    case "k":
    case "K":
      return { kind: "pause" };
    case "l":
    case "L":
      return { kind: "step", ms: LARGE_STEP_MS };
    default:
      return null;
  }
}
