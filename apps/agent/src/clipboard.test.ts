/**
 * The clipboard against a real Xvfb and real xclip; "another application" is a second xclip
 * process, which owns the selection just as a desktop app would.
 */
import { spawn } from "node:child_process";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@rd/log";
import { DATA_LIMITS } from "@rd/protocol";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ClipboardTooLargeError, createClipboard } from "./clipboard.ts";
import { watchClipboardOwner } from "./clipboard-changes.ts";
import { startDisplay, type TestDisplay } from "./testing/display.ts";

const log = createLogger("silent", { name: "agent", module: "clipboard-test" });

describe("the X11 clipboard", () => {
  let display: TestDisplay;
  const stops: (() => void)[] = [];

  beforeAll(async () => {
    display = await startDisplay({ width: 320, height: 240 });
  });
  afterAll(async () => {
    for (const stop of stops) stop();
    await display?.close();
  });

  /**
   * Another X client taking the clipboard, as an app's "Copy" does. (Waiting for `exit`, as xclip's
   * forked server keeps inherited pipes open: execFile would wait for it forever.)
   */
  const copyElsewhere = (text: string) =>
    new Promise<void>((resolve, reject) => {
      const args = ["-display", display.display, "-selection", "clipboard", "-i"];
      const child = spawn("xclip", args, { stdio: ["pipe", "ignore", "ignore"], env: display.env });
      child.once("error", reject);
      child.once("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`xclip -i exited with ${code}`)),
      );
      child.stdin.end(text);
    });

  /** Watches `clipboard` (polling every 50 ms when it polls): the texts it reports, in order. */
  function watchTexts(clipboard: ReturnType<typeof createClipboard>) {
    const texts: string[] = [];
    const stop = clipboard.watch(
      (text) => texts.push(text),
      () => texts.push("(too large)"),
      50,
    );
    stops.push(stop);
    return { texts, stop };
  }

  it("reads an empty string while nobody owns the clipboard", async () => {
    const fresh = await startDisplay({ width: 320, height: 240 });
    try {
      expect(await createClipboard({ log, display: fresh.display }).read()).toBe("");
    } finally {
      await fresh.close();
    }
  });

  it("reads back what it wrote, byte for byte", async () => {
    const clipboard = createClipboard({ log, display: display.display });
    const text = "héllo ✓ 👋\nsecond line\ttab";
    await clipboard.write(text);
    expect(await clipboard.read()).toBe(text);
    await clipboard.write("");
    expect(await clipboard.read()).toBe("");
  });

  it("reads what another application copied", async () => {
    await copyElsewhere("from elsewhere");
    expect(await createClipboard({ log, display: display.display }).read()).toBe("from elsewhere");
  });

  it("keeps a text of exactly the limit whole", async () => {
    const clipboard = createClipboard({ log, display: display.display });
    const text = "ä".repeat(DATA_LIMITS.clipboardChars);
    await clipboard.write(text);
    expect(await clipboard.read()).toBe(text);
  });

  it("refuses text over the limit in both directions instead of cutting it", async () => {
    const clipboard = createClipboard({ log, display: display.display });
    const long = "x".repeat(DATA_LIMITS.clipboardChars + 1);
    await expect(clipboard.write(long)).rejects.toBeInstanceOf(ClipboardTooLargeError);
    await copyElsewhere(long);
    await expect(clipboard.read()).rejects.toBeInstanceOf(ClipboardTooLargeError);
    // Far over the limit too: xclip is stopped early rather than read to the end.
    await copyElsewhere("y".repeat(20 * DATA_LIMITS.clipboardChars));
    await expect(clipboard.read()).rejects.toBeInstanceOf(ClipboardTooLargeError);
  });

  it("watch reports another application's copies, not its own writes, and flags text too large", async () => {
    await copyElsewhere("baseline");
    const clipboard = createClipboard({ log, display: display.display });
    const { texts: changes, stop } = watchTexts(clipboard);

    await clipboard.write("written by the viewer");
    // Several polls see our own text; none may report it.
    await new Promise((r) => setTimeout(r, 300));
    await copyElsewhere("copied on the desktop");
    await vi.waitFor(() => expect(changes).toHaveLength(1), { timeout: 10_000 });
    expect(changes[0]).toBe("copied on the desktop");

    await copyElsewhere("z".repeat(DATA_LIMITS.clipboardChars + 1));
    await vi.waitFor(() => expect(changes).toHaveLength(2), { timeout: 10_000 });
    expect(changes[1]).toBe("(too large)");

    await copyElsewhere("small again");
    await vi.waitFor(() => expect(changes).toHaveLength(3), { timeout: 10_000 });
    expect(changes[2]).toBe("small again");
    stop();
  });

  /** An xclip that notes each read (`-o`) in a file, to count how often the clipboard is read. */
  async function countingXclip() {
    const dir = await mkdtemp(path.join(tmpdir(), "rd-xclip-"));
    const reads = path.join(dir, "reads");
    const wrapper = path.join(dir, "xclip");
    await writeFile(reads, "");
    await writeFile(
      wrapper,
      `#!/bin/sh
case " $* " in *" -o "*) echo read >> ${reads} ;; esac
exec xclip "$@"
`,
    );
    await chmod(wrapper, 0o755);
    const count = async () => (await readFile(reads, "utf8")).split("\n").filter(Boolean).length;
    return { wrapper, count, remove: () => rm(dir, { recursive: true, force: true }) };
  }

  it("with the X server's change reports, reads the clipboard once per copy, not on a timer", async () => {
    await copyElsewhere("before watching");
    const xclip = await countingXclip();
    try {
      const clipboard = createClipboard({
        log,
        display: display.display,
        xclip: xclip.wrapper,
        changes: (onChange, onLost) =>
          watchClipboardOwner(display.display, display.env.XAUTHORITY, onChange, onLost),
      });
      const { texts: changes, stop } = watchTexts(clipboard);
      // One read, the baseline, once the reports are on; then a quiet clipboard is not read, where
      // polling every 50 ms would have read it a dozen times meanwhile.
      await vi.waitFor(async () => expect(await xclip.count()).toBe(1));
      await new Promise((r) => setTimeout(r, 600));
      expect(await xclip.count()).toBe(1);
      expect(changes).toEqual([]);

      await clipboard.write("written by the viewer");
      await copyElsewhere("copied on the desktop");
      await vi.waitFor(() => expect(changes).toEqual(["copied on the desktop"]), { timeout: 10_000 });
      await copyElsewhere("copied again");
      await vi.waitFor(() => expect(changes).toEqual(["copied on the desktop", "copied again"]), {
        timeout: 10_000,
      });
      stop();
    } finally {
      await xclip.remove();
    }
  });

  /** Watches with the X server's change reports, its baseline read only once `baselineDue()`. */
  function watchHeldBack(xclip?: string) {
    const clipboard = createClipboard({
      log,
      display: display.display,
      ...(xclip ? { xclip } : {}),
      changes: (onChange, onLost) =>
        watchClipboardOwner(display.display, display.env.XAUTHORITY, onChange, onLost),
    });
    let baselineDue!: () => void;
    const texts: string[] = [];
    stops.push(
      clipboard.watch(
        (text) => texts.push(text),
        () => texts.push("(too large)"),
        undefined,
        new Promise<void>((resolve) => (baselineDue = resolve)),
      ),
    );
    return { texts, baselineDue };
  }

  it("with its baseline held back, reads nothing until then, and a copy made meanwhile is news", async () => {
    await copyElsewhere("before watching");
    const xclip = await countingXclip();
    try {
      const { texts, baselineDue } = watchHeldBack(xclip.wrapper);
      // The reports are on, but no xclip runs while the session starts.
      await new Promise((r) => setTimeout(r, 400));
      expect(await xclip.count()).toBe(0);
      // A copy in those first seconds used to become the baseline, and never reached the viewer.
      await copyElsewhere("copied while the session started");
      await vi.waitFor(() => expect(texts).toEqual(["copied while the session started"]), {
        timeout: 10_000,
      });
      baselineDue();
      await new Promise((r) => setTimeout(r, 300));
      expect(texts).toEqual(["copied while the session started"]);
    } finally {
      await xclip.remove();
    }
  });

  it("with its baseline held back and nothing copied, reads the baseline then and reports nothing", async () => {
    await copyElsewhere("before watching, again");
    const { texts, baselineDue } = watchHeldBack();
    baselineDue();
    await new Promise((r) => setTimeout(r, 500));
    await copyElsewhere("copied later");
    await vi.waitFor(() => expect(texts).toEqual(["copied later"]), { timeout: 10_000 });
  });

  it("polls instead when the change reports cannot be had, or stop", async () => {
    const refused = watchTexts(
      createClipboard({
        log,
        display: display.display,
        changes: () => Promise.reject(new Error("no XFIXES here")),
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    await copyElsewhere("seen by polling");
    await vi.waitFor(() => expect(refused.texts).toEqual(["seen by polling"]), { timeout: 10_000 });
    refused.stop();

    // Reports that start, then break (the X connection lost): polling takes over.
    let lose: (error: Error) => void = () => {};
    const lossy = watchTexts(
      createClipboard({
        log,
        display: display.display,
        changes: (_onChange, onLost) => {
          lose = onLost;
          return Promise.resolve({ close() {} });
        },
      }),
    );
    await new Promise((r) => setTimeout(r, 200));
    lose(new Error("the X server closed the connection"));
    await copyElsewhere("seen after the loss");
    await vi.waitFor(() => expect(lossy.texts).toEqual(["seen after the loss"]), { timeout: 10_000 });
    lossy.stop();
  });

  it("runs one xclip write at a time and skips to the newest text of a burst", async () => {
    // The real xclip behind a script that notes when each write starts and ends.
    const dir = await mkdtemp(path.join(tmpdir(), "rd-xclip-"));
    const runs = path.join(dir, "runs");
    const wrapper = path.join(dir, "xclip");
    await writeFile(
      wrapper,
      `#!/bin/sh
case " $* " in *" -i "*) echo start >> ${runs} ;; esac
xclip "$@"; status=$?
case " $* " in *" -i "*) echo end >> ${runs} ;; esac
exit $status
`,
    );
    await chmod(wrapper, 0o755);
    try {
      const clipboard = createClipboard({ log, display: display.display, xclip: wrapper });
      // As a viewer's page gone rogue would send them: twenty clipboard messages back to back.
      await Promise.all(Array.from({ length: 20 }, (_, i) => clipboard.write(`burst ${i}`)));
      // The first, then only the newest: never two at once.
      expect(await readFile(runs, "utf8")).toBe("start\nend\nstart\nend\n");
      expect(await createClipboard({ log, display: display.display }).read()).toBe("burst 19");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("names the package to install when xclip is missing", async () => {
    const clipboard = createClipboard({ log, display: display.display, xclip: "/nonexistent/xclip" });
    await expect(clipboard.read()).rejects.toThrow("sudo apt-get install -y xclip");
    await expect(clipboard.write("x")).rejects.toThrow("sudo apt-get install -y xclip");
  });

  it("refuses to start without a display", () => {
    expect(() => createClipboard({ log, display: undefined })).toThrow(/DISPLAY is not set/);
  });
});
