/**
 * The keyboard mapping watch against a real Xvfb: xmodmap changes the mapping the way a layout
 * switcher would, and every change makes the server send MappingNotify to all its clients.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startDisplay, type TestDisplay } from "../testing/display.ts";
import { type KeyboardMappingChanges, watchKeyboardMapping } from "./keyboard-mapping-changes.ts";

const run = promisify(execFile);
/** Long enough for reports still on their way to be read. */
const settle = () => new Promise((r) => setTimeout(r, 300));

describe("watching the keyboard mapping", () => {
  let display: TestDisplay;
  let watch: KeyboardMappingChanges | undefined;
  let changes = 0;
  let lost: Error | undefined;

  beforeAll(async () => {
    display = await startDisplay({ width: 320, height: 240 });
    watch = await watchKeyboardMapping(
      display.display,
      display.env.XAUTHORITY,
      () => changes++,
      (error) => (lost = error),
    );
  });
  afterAll(async () => {
    watch?.close();
    await display?.close();
  });

  const xmodmap = (expression: string) =>
    run("xmodmap", ["-display", display.display, "-e", expression], { env: display.env });
  /** keycode 38's line as `xmodmap -pke` prints it, e.g. "keycode  38 = a A a A". */
  const keycode38 = async () => {
    const { stdout } = await run("xmodmap", ["-display", display.display, "-pke"], { env: display.env });
    return stdout.split("\n").find((line) => /^keycode\s+38 =/.test(line))!;
  };

  it("reports a real change once, and not a report that left the keysyms as they were", async () => {
    // The same mapping set again: the server still sends MappingNotify, with nothing new in it.
    const same = await keycode38();
    await xmodmap(same);
    await xmodmap(same);
    // A real change after them: reports are read in order, so once it is seen the others were too.
    await xmodmap("keycode 38 = F20");
    await vi.waitFor(() => expect(changes).toBeGreaterThan(0), { timeout: 5_000 });
    await settle();
    expect(changes).toBe(1);
    await xmodmap(same);
    await vi.waitFor(() => expect(changes).toBeGreaterThan(1), { timeout: 5_000 });
    await settle();
    expect(changes).toBe(2);
    expect(lost).toBeUndefined();
  });

  it("does not report a change of the keycodes it is told to leave out", async () => {
    let seen = 0;
    const lentKeycodes = await watchKeyboardMapping(
      display.display,
      display.env.XAUTHORITY,
      () => seen++,
      (error) => (lost = error),
      () => [39],
    );
    try {
      // What x-typist.ts does to a spare keycode for a character the layout lacks.
      await xmodmap("keycode 39 = eacute eacute");
      // A real change after it: once that is seen, the other report was read too.
      await xmodmap("keycode 38 = F22");
      await vi.waitFor(() => expect(seen).toBe(1), { timeout: 5_000 });
      await settle();
      expect(seen).toBe(1);
    } finally {
      lentKeycodes.close();
    }
  });

  it("hears nothing after it is closed, and reports no loss for its own close", async () => {
    watch!.close();
    watch = undefined;
    const before = changes;
    await xmodmap("keycode 38 = F21");
    await settle();
    expect(changes).toBe(before);
    expect(lost).toBeUndefined();
  });
});
