/**
 * Typing through a text field, for what never comes as key events: a phone's or tablet's on-screen
 * keyboard (Android's send most keys as "Unidentified" and put the text in the focused field), an
 * input method (IME) composing Chinese or Japanese, a word the keyboard's autocorrect replaced.
 * None of these can type into the viewer's screen, which is not editable, so the viewer's Keyboard
 * button focuses a hidden field inside it (which also brings the on-screen keyboard up), and what
 * the field's text becomes is sent as keys: the characters added as typed characters, the ones
 * taken away as Backspaces, a new line as Enter.
 *
 * Keys that do come as key events (a physical keyboard, Backspace, arrows) are still sent by
 * input-capture.ts as the field's key events bubble up to the screen; it prevents their default,
 * so they never reach the field's text and are not sent twice.
 */
import type { InputMessage } from "@rd/protocol";

/** The DOM the text entry needs; an HTMLTextAreaElement fits. */
export interface TextField extends EventTarget {
  value: string;
  focus(options?: FocusOptions): void;
}

export interface TextEntryOptions {
  field: TextField;
  send(message: InputMessage): void;
  /** False in view-only mode or when there is no connection: the field's text is dropped. */
  enabled(): boolean;
  /** Told when one change of the field's text took more keys than are sent at once. */
  onTooLong?(sent: number, dropped: number): void;
}

export interface TextEntry {
  /** Focuses the field (from a click: the on-screen keyboard opens only for a user's gesture). */
  focus(): void;
  /**
   * Empties the field: a key was sent from it as a key (a physical one, or an on-screen
   * keyboard's Backspace), so its text is no longer what the remote has, and a later correction
   * must not be measured against it.
   */
  reset(): void;
  detach(): void;
}

/**
 * Key taps (characters and Backspaces) sent for one change of the field, at most: two key messages
 * each, well inside the agent's input burst (DATA_LIMITS.inputBurst, 1,000) even right after fast
 * typing. A longer paste goes through Send clipboard.
 */
export const MAX_KEYS_AT_ONCE = 200;
/** The field is emptied once it holds this much, so that its diff stays short. */
const KEEP_AT_MOST = 64;

/**
 * What turns `before` into `after` at its end: how many characters to take back, then the text to
 * type. Counted in what a person sees as one character (a grapheme: an emoji with its modifiers,
 * a letter with its accent), as one Backspace takes back in most applications.
 */
export function textEdit(before: string, after: string): { deletions: number; text: string } {
  const old = graphemes(before);
  const now = graphemes(after);
  let common = 0;
  while (common < old.length && common < now.length && old[common] === now[common]) common++;
  return { deletions: old.length - common, text: now.slice(common).join("") };
}

const segmenter = typeof Intl.Segmenter === "function" ? new Intl.Segmenter() : undefined;

function graphemes(text: string): string[] {
  return segmenter ? Array.from(segmenter.segment(text), (s) => s.segment) : [...text];
}

/** The key presses that type `text`: a character as itself, a new line as Enter, a tab as Tab. */
export function keysForText(text: string): { code: string; key: string }[] {
  const keys: { code: string; key: string }[] = [];
  for (const character of text.replaceAll("\r\n", "\n")) {
    if (character === "\n" || character === "\r") keys.push({ code: "Enter", key: "Enter" });
    else if (character === "\t") keys.push({ code: "Tab", key: "Tab" });
    // Other control characters type nothing anyone meant.
    else if (!/^\p{Cc}$/u.test(character)) keys.push({ code: "Unidentified", key: character });
  }
  return keys;
}

const NO_MODIFIERS = { ctrl: false, shift: false, alt: false, meta: false };
const BACKSPACE = { code: "Backspace", key: "Backspace" };

export function attachTextEntry(options: TextEntryOptions): TextEntry {
  const { field, send, enabled } = options;
  /** The field's text as last sent. */
  let last = field.value;
  let composing = false;

  const tap = (code: string, key: string) => {
    send({ type: "input/key", action: "down", code, key, modifiers: NO_MODIFIERS });
    send({ type: "input/key", action: "up", code, key, modifiers: NO_MODIFIERS });
  };

  // Every change is sent, a composition's too: Android's keyboards compose every word, and waiting
  // for the word's end would hold each letter back; an IME's syllables are taken back by the same
  // diff when the composition becomes its characters.
  const onInput = () => {
    const now = field.value;
    const { deletions, text } = textEdit(last, now);
    last = now;
    if (enabled()) {
      const taps = [...new Array<typeof BACKSPACE>(deletions).fill(BACKSPACE), ...keysForText(text)];
      for (const { code, key } of taps.slice(0, MAX_KEYS_AT_ONCE)) tap(code, key);
      if (taps.length > MAX_KEYS_AT_ONCE)
        options.onTooLong?.(MAX_KEYS_AT_ONCE, taps.length - MAX_KEYS_AT_ONCE);
    }
    // Emptied between words, never mid-composition (the keyboard would lose the word it is making).
    if (!composing && [...now].length > KEEP_AT_MOST) field.value = last = "";
  };
  const onCompositionStart = () => (composing = true);
  const onCompositionEnd = () => {
    composing = false;
    onInput();
  };
  // Whatever was typed elsewhere in the meantime is not this field's business.
  const reset = () => (field.value = last = "");

  const listeners: [string, () => void][] = [
    ["input", onInput],
    ["compositionstart", onCompositionStart],
    ["compositionend", onCompositionEnd],
    ["focus", reset],
  ];
  for (const [type, listener] of listeners) field.addEventListener(type, listener);

  return {
    focus: () => field.focus({ preventScroll: true }),
    reset,
    detach: () => {
      for (const [type, listener] of listeners) field.removeEventListener(type, listener);
    },
  };
}
