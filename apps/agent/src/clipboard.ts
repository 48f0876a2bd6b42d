/**
 * The desktop's clipboard (X11's CLIPBOARD selection), read, written and watched through `xclip`.
 * Text longer than the protocol allows is refused, never cut: the caller learns it was too large
 * and can tell the viewer so.
 */
import { spawn } from "node:child_process";
import type { Socket } from "node:net";
import type { Logger } from "@rd/log";
import { DATA_LIMITS } from "@rd/protocol";
import { childEnv } from "./child-env.ts";
import type { ClipboardChanges } from "./clipboard-changes.ts";

export interface ClipboardOptions {
  log: Logger;
  /** The X display whose clipboard this is, e.g. ":0"; from the agent's config. */
  display: string | undefined;
  /** The xclip binary; found on PATH by default. */
  xclip?: string;
  /** Longest text in either direction, in UTF-16 code units like the protocol's limit. */
  maxChars?: number;
  /**
   * Reports of possible changes (clipboard-changes.ts): with them `watch` reads the clipboard once
   * per copy instead of polling. Polling stays the fallback when they cannot be had or stop.
   */
  changes?: (onChange: () => void, onLost: (error: Error) => void) => Promise<ClipboardChanges>;
}

export interface Clipboard {
  /** The clipboard's text; "" when it is empty or holds no text. Rejects with ClipboardTooLargeError. */
  read(): Promise<string>;
  /**
   * Makes `text` the clipboard's content. Rejects with ClipboardTooLargeError. One xclip writes at
   * a time: a write asked for meanwhile waits, and a newer one takes its place, so a burst costs
   * two xclip runs. A replaced write resolves once the text that replaced it is in the clipboard.
   */
  write(text: string): Promise<void>;
  /**
   * Reports each change of the clipboard made by someone else (not by `write`): new text to
   * `onText`, or to `onTooLarge` when the new content is longer than the limit. The content when
   * watching starts is the baseline and not reported. Reads on the change reports when the options
   * have them, else every `intervalMs`. Returns a function that stops watching.
   *
   * With `baselineAfter`, the baseline is read only once it resolves (each read runs xclip), and a
   * change reported before then is a copy made since watching started: reported, not taken as the
   * baseline.
   */
  watch(
    onText: (text: string) => void,
    onTooLarge: () => void,
    intervalMs?: number,
    baselineAfter?: Promise<unknown>,
  ): () => void;
}

export class ClipboardTooLargeError extends Error {
  readonly maxChars: number;
  constructor(maxChars: number) {
    super(`the clipboard text is longer than ${maxChars} characters`);
    this.maxChars = maxChars;
  }
}

/** A clipboard owner that has not answered in this long has hung; another poll will come. */
const XCLIP_TIMEOUT_MS = 3_000;
/** With change reports: how soon a read that overlapped one of our writes is made again. */
const RECHECK_MS = 100;

/** A read's outcome; `prefix` tells one too-large content from another without keeping it all. */
type Content = { kind: "text"; text: string } | { kind: "too-large"; prefix: string };

export function createClipboard(options: ClipboardOptions): Clipboard {
  const { log, display } = options;
  if (!display)
    throw new Error("cannot use the clipboard: DISPLAY is not set (the agent needs an X11 session)");
  const xclip = options.xclip ?? "xclip";
  const maxChars = options.maxChars ?? DATA_LIMITS.clipboardChars;
  // What the clipboard last held as far as we know, from a read or our own write; watch reports
  // only a difference from it, so our own writes never echo back to the viewer.
  let known: Content | undefined;
  // A poll that overlaps a write may see the clipboard before or after it; its result is unusable.
  let writes = 0;
  let writing = 0;

  const read = async () => {
    const content = await readContent(xclip, display, maxChars);
    if (content.kind === "too-large") throw new ClipboardTooLargeError(maxChars);
    return content.text;
  };

  // The write running now, and the one waiting for it (its text replaced by each newer write).
  let running: Promise<void> | undefined;
  let waiting: { text: string; done: Promise<void> } | undefined;

  const write = (text: string): Promise<void> => {
    if (text.length > maxChars) return Promise.reject(new ClipboardTooLargeError(maxChars));
    if (!running) return start(text);
    if (waiting) {
      waiting.text = text;
      return waiting.done;
    }
    const next: { text: string; done: Promise<void> } = { text, done: Promise.resolve() };
    const startNext = (): Promise<void> => {
      waiting = undefined;
      return start(next.text);
    };
    // Whatever became of the running write, the newer text is still to be written.
    next.done = running.then(startNext, startNext);
    waiting = next;
    return next.done;
  };

  const start = (text: string): Promise<void> => {
    const run = writeNow(text).finally(() => {
      if (running === run) running = undefined;
    });
    running = run;
    return run;
  };

  const writeNow = async (text: string) => {
    const before = known;
    known = { kind: "text", text };
    writes++;
    writing++;
    try {
      await writeText(xclip, display, text);
    } catch (error) {
      known = before;
      throw error;
    } finally {
      writing--;
    }
  };

  const watch = (
    onText: (text: string) => void,
    onTooLarge: () => void,
    intervalMs = 500,
    baselineAfter?: Promise<unknown>,
  ) => {
    let baseline = true;
    /** A change reported before the baseline was read: what the first read finds is news. */
    let changedSinceStart = false;
    let polling = false;
    let stopped = false;
    let failing: string | undefined;
    /** A change was reported while a read ran, or a read overlapped a write: read again after. */
    let again = false;
    let timer: ReturnType<typeof setInterval> | undefined;
    let changes: ClipboardChanges | undefined;
    /** Reads the clipboard; the content when it is news to report, else undefined. */
    const check = async (): Promise<Content | undefined> => {
      const writesBefore = writes;
      // A write under way when the read starts may land before or after it.
      const overlapped = writing > 0;
      try {
        const content = await readContent(xclip, display, maxChars);
        if (failing !== undefined) log.info({}, "the clipboard is readable again");
        failing = undefined;
        if (overlapped || writing > 0 || writes !== writesBefore) {
          again = true;
          return undefined;
        }
        const changed = !known || !sameContent(known, content);
        known = content;
        return changed && (!baseline || changedSinceStart) ? content : undefined;
      } catch (error) {
        // Log when the failure starts or changes, not on every poll.
        const message = error instanceof Error ? error.message : String(error);
        if (message !== failing) log.warn({ err: error }, "cannot read the clipboard");
        failing = message;
        return undefined;
      } finally {
        baseline = false;
      }
    };
    const poll = async () => {
      if (polling) {
        again = true;
        return;
      }
      polling = true;
      again = false;
      const news = await check();
      polling = false;
      if (stopped) return;
      // Polling reads again anyway; change reports come once per copy, so none may be dropped.
      if (again && !timer) setTimeout(() => void poll(), RECHECK_MS).unref();
      if (!news) return;
      if (news.kind === "text") onText(news.text);
      else onTooLarge();
    };
    const startPolling = () => {
      timer ??= setInterval(() => void poll(), intervalMs);
      timer.unref();
    };
    /** Runs `read` once the baseline may be read: at once, or when `baselineAfter` resolves. */
    const afterBaseline = (read: () => void) => (baselineAfter ? void baselineAfter.then(read) : read());
    // Polling reads all along, so it starts with the baseline.
    const pollFromBaseline = () =>
      afterBaseline(() => {
        if (stopped) return;
        void poll();
        startPolling();
      });
    if (!options.changes) {
      pollFromBaseline();
    } else {
      const fallBack = (error: unknown, what: string) => {
        changes = undefined;
        if (stopped) return;
        log.warn({ err: error }, `${what}; polling the clipboard instead`);
        pollFromBaseline();
      };
      // The baseline is read once the reports have started, not also before: every read runs
      // xclip, and each run stops the agent's event loop for a fork while its session is starting.
      options
        .changes(
          () => {
            if (baseline) changedSinceStart = true;
            void poll();
          },
          (error) => fallBack(error, "lost the clipboard's change reports"),
        )
        .then(
          (watching) => {
            if (stopped) return watching.close();
            changes = watching;
            // Unless a reported change has read it already.
            afterBaseline(() => {
              if (!stopped && baseline) void poll();
            });
          },
          (error: unknown) => fallBack(error, "cannot watch the clipboard for changes"),
        );
    }
    return () => {
      stopped = true;
      clearInterval(timer);
      changes?.close();
    };
  };

  return { read, write, watch };
}

function sameContent(a: Content, b: Content): boolean {
  if (a.kind === "text" && b.kind === "text") return a.text === b.text;
  if (a.kind === "too-large" && b.kind === "too-large") return a.prefix === b.prefix;
  return false;
}

/**
 * Reads the CLIPBOARD selection as UTF-8. At most 3 bytes of UTF-8 make one UTF-16 code unit, so
 * once more than 3 × maxChars bytes have come the text is too long whatever it is, and xclip is
 * stopped there rather than buffering a clipboard of any size.
 */
function readContent(xclip: string, display: string, maxChars: number): Promise<Content> {
  const maxBytes = 3 * maxChars;
  return new Promise((resolve, reject) => {
    const child = spawn(xclip, ["-display", display, "-selection", "clipboard", "-o"], {
      stdio: ["ignore", "pipe", "pipe"],
      env: childEnv(display),
      timeout: XCLIP_TIMEOUT_MS,
    });
    const chunks: Buffer[] = [];
    let bytes = 0;
    let tooLarge = false;
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => {
      if (tooLarge) return;
      chunks.push(chunk);
      bytes += chunk.length;
      if (bytes > maxBytes) {
        tooLarge = true;
        child.kill();
      }
    });
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once("error", (error) => reject(explainSpawnError(error)));
    child.once("close", (code, signal) => {
      const data = Buffer.concat(chunks);
      if (tooLarge) return resolve({ kind: "too-large", prefix: data.subarray(0, 4096).toString("base64") });
      if (code === 0) {
        const text = data.toString("utf8");
        if (text.length > maxChars)
          resolve({ kind: "too-large", prefix: data.subarray(0, 4096).toString("base64") });
        else resolve({ kind: "text", text });
        return;
      }
      // Nobody owns the clipboard, or its owner offers no text (an image, say): no text to share.
      if (code === 1 && /target \S+ not available/i.test(stderr)) return resolve({ kind: "text", text: "" });
      if (signal) return reject(new Error(`xclip -o did not finish within ${XCLIP_TIMEOUT_MS} ms`));
      reject(new Error(`xclip -o failed (exit ${code}): ${stderr.trim()}`));
    });
  });
}

/**
 * Writes the CLIPBOARD selection. xclip forks a child that stays behind to serve the selection
 * until another client takes it over; that child inherits xclip's stdio. So this waits for the
 * parent's `exit`, not for `close` (which would wait for the child, for as long as it serves), and
 * gives the child /dev/null for stdout.
 */
function writeText(xclip: string, display: string, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(xclip, ["-display", display, "-selection", "clipboard", "-i"], {
      stdio: ["pipe", "ignore", "pipe"],
      env: childEnv(display),
      timeout: XCLIP_TIMEOUT_MS,
    });
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-2000)));
    child.once("error", (error) => reject(explainSpawnError(error)));
    // EPIPE when xclip died before reading its input; its exit status tells why.
    child.stdin.on("error", () => {});
    child.stdin.end(text, "utf8");
    child.once("exit", (code, signal) => {
      if (code === 0) {
        // The serving child holds the stderr pipe open: stop it from keeping the agent alive.
        (child.stderr as Socket).unref();
        return resolve();
      }
      // No serving child on failure, so stderr closes promptly with the whole message.
      child.once("close", () => {
        if (signal) reject(new Error(`xclip -i did not finish within ${XCLIP_TIMEOUT_MS} ms`));
        else reject(new Error(`xclip -i failed (exit ${code}): ${stderr.trim()}`));
      });
    });
  });
}

function explainSpawnError(error: NodeJS.ErrnoException): Error {
  if (error.code === "ENOENT") {
    return new Error("xclip is not installed; install it: sudo apt-get install -y xclip", { cause: error });
  }
  return new Error(`cannot run xclip: ${error.message}`, { cause: error });
}
