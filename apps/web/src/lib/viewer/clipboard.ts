/**
 * Clipboard text between the technician and the remote machine: the size rule of the protocol
 * (text over DATA_LIMITS.clipboardChars is refused with a message, never cut), reading the local
 * clipboard, which browsers may refuse, and how a remote clipboard is shown before anyone copies it.
 */
import { DATA_LIMITS } from "@rd/protocol";

const count = (n: number) => n.toLocaleString("en-US");

/**
 * Why `text` cannot be sent, or null when it can. Besides the character limit, the message as sent
 * must fit the channel: the agent drops frames over DATA_LIMITS.maxMessageBytes unread, and the
 * browser refuses messages over the SCTP transport's maxMessageSize (256 KiB in Chromium), which
 * text full of escaped or non-Latin characters can reach within the character limit.
 */
export function clipboardProblem(
  text: string,
  maxBytes: number = DATA_LIMITS.maxMessageBytes,
  limit: number = DATA_LIMITS.clipboardChars,
): string | null {
  if (text.length === 0) return "The clipboard is empty; there is nothing to send.";
  if (text.length > limit) {
    return `The clipboard holds ${count(text.length)} characters; at most ${count(limit)} can be sent. Copy less and try again.`;
  }
  const bytes = new TextEncoder().encode(JSON.stringify({ type: "control/clipboard", text })).length;
  if (bytes > Math.min(maxBytes, DATA_LIMITS.maxMessageBytes)) {
    return `The clipboard text is too large to send once encoded (${count(Math.ceil(bytes / 1024))} KiB). Copy less and try again.`;
  }
  return null;
}

/** What reading the local clipboard gave: its text, or that the browser would not tell (ask the person). */
export type ClipboardRead = { ok: true; text: string } | { ok: false; why: string };

/**
 * Reads the local clipboard. Needs a user gesture, a secure context, and (Firefox, Safari, or a
 * denied permission) may be refused: the caller then offers a text box to paste into instead.
 */
export async function readLocalClipboard(
  clipboard: Pick<Clipboard, "readText"> | undefined = globalThis.navigator?.clipboard,
): Promise<ClipboardRead> {
  if (!clipboard?.readText) {
    return { ok: false, why: "This browser does not let pages read the clipboard." };
  }
  try {
    return { ok: true, text: await clipboard.readText() };
  } catch {
    return { ok: false, why: "The browser did not allow reading the clipboard." };
  }
}

/** Writes text to the local clipboard; false when the browser refuses (no focus, no permission). */
export async function writeLocalClipboard(
  text: string,
  clipboard: Pick<Clipboard, "writeText"> | undefined = globalThis.navigator?.clipboard,
): Promise<boolean> {
  if (!clipboard?.writeText) return false;
  try {
    await clipboard.writeText(text);
    return true;
  } catch {
    return false;
  }
}

/**
 * How much of a remote clipboard the panel shows: enough to judge what a paste would do (a command
 * line or a few), little enough that the panel stays small. Copy takes the whole text.
 */
export const PREVIEW_CHARS = 400;
export const PREVIEW_LINES = 6;

/**
 * Characters that would make the text shown differ from the text pasted: C0 controls other than tab
 * and a line end (a lone carriage return rewrites the line a terminal shows, ESC starts a
 * sequence), DEL, C1 controls, zero-width characters and bidirectional overrides (which reorder
 * what is read).
 */
const HIDDEN =
  // eslint-disable-next-line no-control-regex -- finding control characters is the point
  /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]|\r(?!\n)/g;

/**
 * The part of a remote clipboard's text the panel shows, with every character that would hide what
 * a paste does made visible (as ⟨U+001B⟩), and how many characters of the text are not shown.
 */
export function clipboardPreview(
  text: string,
  maxChars: number = PREVIEW_CHARS,
  maxLines: number = PREVIEW_LINES,
): { shown: string; more: number } {
  let end = Math.min(text.length, maxChars);
  let newline = -1;
  for (let line = 0; line < maxLines; line++) {
    newline = text.indexOf("\n", newline + 1);
    if (newline === -1) break;
  }
  if (newline !== -1 && newline < end) end = newline;
  const visible = (c: string) => `⟨U+${c.charCodeAt(0).toString(16).toUpperCase().padStart(4, "0")}⟩`;
  return { shown: text.slice(0, end).replace(HIDDEN, visible), more: text.length - end };
}
