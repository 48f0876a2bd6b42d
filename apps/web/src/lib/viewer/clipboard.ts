/**
 * Clipboard text between the technician and the remote machine: the size rule of the protocol
 * (text over DATA_LIMITS.clipboardChars is refused with a message, never cut) and reading the
 * local clipboard, which browsers may refuse.
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
