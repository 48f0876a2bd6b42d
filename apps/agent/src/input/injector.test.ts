/**
 * The nut-js injector against a real Xvfb: what it presses is read back from X itself (xdotool for
 * the pointer, an xev window for keys and buttons). libnut opens one display per process, so this
 * file drives a single display throughout; the layout-switch case runs last because it changes it.
 */
import { execFile } from "node:child_process";
import { createLogger } from "@rd/log";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { pointerLocation, startDisplay, type TestDisplay } from "../testing/display.ts";
import { startEventWindow, type EventWindow, type XEvent } from "../testing/x-events.ts";
import { createNutInjector, explainNativeError, KeyUnavailableError, type Injector } from "./injector.ts";
import { KEY_CODES, keyForCode, type MappedKey } from "./keymap.ts";
import { KEYSYMS } from "./x-keymap.ts";

const log = createLogger("warn", { name: "agent", module: "injector-test" });

describe("createNutInjector refuses to start", () => {
  it("without a display, before nut-js is ever called", async () => {
    await expect(createNutInjector({ display: undefined, log })).rejects.toThrow(/DISPLAY is not set/);
    await expect(createNutInjector({ display: "", log })).rejects.toThrow(/DISPLAY is not set/);
  });

  it("with a display nothing serves", async () => {
    await expect(createNutInjector({ display: ":249", log })).rejects.toThrow(/cannot query X display :249/);
  });

  it("explains a missing libXtst with the package to install", () => {
    const error = explainNativeError(
      new Error("libXtst.so.6: cannot open shared object file: No such file or directory"),
    );
    expect(error.message).toContain("sudo apt-get install -y libxtst6");
  });
});

describe("the nut-js injector on a real X display", () => {
  let display: TestDisplay;
  let injector: Injector;
  let xev: EventWindow;

  beforeAll(async () => {
    display = await startDisplay({ width: 800, height: 600 });
    // No polling to fall back on within the test's wait: a switch must come as the server's report.
    injector = await createNutInjector({ display: display.display, log, layoutRefreshMs: 60_000 });
    xev = await startEventWindow(display.display);
  });
  afterAll(async () => {
    injector?.close();
    await xev?.close();
    await display?.close();
  });

  /** Waits until xev has reported `count` events and returns them. */
  const received = async (count: number): Promise<XEvent[]> => {
    await vi.waitFor(() => expect(xev.events().length).toBeGreaterThanOrEqual(count), {
      timeout: 5_000,
      interval: 5,
    });
    return xev.events();
  };

  it("reports the screen's real size", async () => {
    expect(await injector.screenSize()).toEqual({ width: 800, height: 600 });
  });

  it("follows a change of the screen's resolution", async () => {
    const xrandr = (...args: string[]) => run("xrandr", ["-display", display.display, ...args]);
    await xrandr("--newmode", "640x480", "25", "640", "656", "752", "800", "480", "490", "492", "525");
    await xrandr("--addmode", "screen", "640x480");
    await xrandr("--output", "screen", "--mode", "640x480");
    try {
      expect(await injector.screenSize()).toEqual({ width: 640, height: 480 });
    } finally {
      await xrandr("--output", "screen", "--mode", "800x600");
    }
    expect(await injector.screenSize()).toEqual({ width: 800, height: 600 });
  });

  it("moves the X pointer to the exact pixel", async () => {
    await injector.move(321, 123);
    expect(await pointerLocation(display.display)).toEqual({ x: 321, y: 123 });
    await injector.move(799, 599);
    expect(await pointerLocation(display.display)).toEqual({ x: 799, y: 599 });
  });

  it("presses and releases the left, middle and right buttons as X buttons 1, 2 and 3", async () => {
    await injector.move(100, 100);
    xev.clear();
    for (const button of [0, 1, 2] as const) {
      await injector.buttonDown(button);
      await injector.buttonUp(button);
    }
    expect(await received(6)).toEqual([
      { type: "ButtonPress", button: 1 },
      { type: "ButtonRelease", button: 1 },
      { type: "ButtonPress", button: 2 },
      { type: "ButtonRelease", button: 2 },
      { type: "ButtonPress", button: 3 },
      { type: "ButtonRelease", button: 3 },
    ]);
  });

  it("scrolls one wheel click per notch: down 5, up 4, left 6, right 7", async () => {
    await injector.move(100, 100);
    for (const [dx, dy, button] of [
      [0, 2, 5],
      [0, -1, 4],
      [-1, 0, 6],
      [3, 0, 7],
    ] as const) {
      xev.clear();
      await injector.scroll(dx, dy);
      const notches = Math.abs(dx) + Math.abs(dy);
      const presses = (await received(2 * notches)).filter((e) => e.type === "ButtonPress");
      expect(presses).toEqual(Array.from({ length: notches }, () => ({ type: "ButtonPress", button })));
    }
  });

  it("presses the right keysym for every key code the layout has", async () => {
    // NumLock on, so keypad keys give their digits (KP_0) rather than their navigation (KP_Insert).
    xev.clear();
    await injector.keyDown("NumLock");
    await injector.keyUp("NumLock");
    await received(2);
    const locks = new Set(["CapsLock", "NumLock", "ScrollLock"]);
    const pressable = KEY_CODES.filter((code) => injector.canPress(keyForCode(code)!));
    // Xvfb's default layout has all but F13–F24.
    expect(KEY_CODES.filter((code) => !pressable.includes(code))).toEqual(
      Array.from({ length: 12 }, (_, i) => `F${i + 13}`),
    );
    const wrong: string[] = [];
    for (const code of pressable) {
      const key = keyForCode(code)!;
      xev.clear();
      // Lock keys go twice, so their state is as before for the keys after them.
      const taps = locks.has(code) ? 2 : 1;
      for (let i = 0; i < taps; i++) {
        await injector.keyDown(key);
        await injector.keyUp(key);
      }
      // On a loaded machine the previous key's release can arrive after clear(): look for the press.
      const press = (await received(2 * taps)).find((e) => e.type === "KeyPress");
      if (press?.type !== "KeyPress" || press.keysym !== KEYSYMS[key]) {
        wrong.push(`${code}: ${JSON.stringify(press)}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("refuses a key the layout lacks, instead of letting XTest kill the process", async () => {
    expect(injector.canPress("F13")).toBe(false);
    await expect(injector.keyDown("F13")).rejects.toBeInstanceOf(KeyUnavailableError);
    // Still alive and injecting.
    xev.clear();
    await injector.keyDown("B");
    await injector.keyUp("B");
    expect((await received(2))[0]).toMatchObject({ type: "KeyPress", keysym: "b" });
  });

  /** The characters xev saw typed since the last clear(), once there are `count`: presses of non-modifiers. */
  const typed = async (count: number): Promise<string[]> => {
    const modifiers = new Set(["Shift_L", "Shift_R", "Caps_Lock", "ISO_Level3_Shift", "Control_L", "Alt_L"]);
    const presses = () =>
      xev.events().flatMap((e) => (e.type === "KeyPress" && !modifiers.has(e.keysym) ? [e.keysym] : []));
    await vi.waitFor(() => expect(presses().length).toBeGreaterThanOrEqual(count), { timeout: 5_000 });
    return presses();
  };
  const type = async (text: string, held: MappedKey[] = []) => {
    for (const character of text) expect(await injector.typeCharacter(character, held)).toBe(true);
  };

  it("types characters as themselves, pressing or lifting the Shift each needs", async () => {
    xev.clear();
    await type("$((4+5)) Hi!");
    expect(await typed(12)).toEqual(
      ["dollar", "parenleft", "parenleft", "4", "plus", "5"].concat([
        "parenright",
        "parenright",
        "space",
        "H",
        "i",
        "exclam",
      ]),
    );
    // A viewer holding Shift for a character its own layout shifts ("1" on a French keyboard):
    // the desktop gets the plain "1", and Shift is held again after it.
    xev.clear();
    await injector.keyDown("LeftShift");
    await type("1a", ["LeftShift"]);
    await injector.keyDown("B");
    await injector.keyUp("B");
    await injector.keyUp("LeftShift");
    expect(await typed(3)).toEqual(["1", "a", "B"]);
    // Caps Lock on: a letter still comes out in the case asked for.
    await injector.keyDown("CapsLock");
    await injector.keyUp("CapsLock");
    xev.clear();
    await type("aB");
    expect(await typed(2)).toEqual(["a", "B"]);
    await injector.keyDown("CapsLock");
    await injector.keyUp("CapsLock");
    // Characters the layout has no key for borrow a keycode no key makes, bound to them.
    xev.clear();
    await type("é€жé");
    expect(await typed(4)).toEqual(["eacute", "U20AC", "U0436", "eacute"]);
    const borrowed = new Set(xev.events().flatMap((e) => (e.type === "KeyPress" ? [e.keycode] : [])));
    expect(borrowed.size).toBe(3);
  });

  it("follows a switch to a layout without Alt_R (German: that key is AltGr)", async () => {
    expect(injector.canPress("RightAlt")).toBe(true);
    await loadKeymap(display, "de", "qwertz");
    await vi.waitFor(() => expect(injector.canPress("RightAlt")).toBe(false), { timeout: 10_000 });
    await expect(injector.keyDown("RightAlt")).rejects.toBeInstanceOf(KeyUnavailableError);
    xev.clear();
    await injector.keyDown("A");
    await injector.keyUp("A");
    expect((await received(2))[0]).toMatchObject({ type: "KeyPress", keysym: "a" });

    // Characters follow the new layout too: "z" is where a US keyboard has Y, "@" is AltGr+Q.
    xev.clear();
    await type("zy@");
    expect(await typed(3)).toEqual(["z", "y", "at"]);
    const keycodes = xev
      .events()
      .flatMap((e) => (e.type === "KeyPress" && e.keysym.length === 1 ? [e.keycode] : []));
    expect(keycodes).toEqual([29, 52]);
  });

  it("types the characters of a layout that names them by legacy keysyms (Russian: Cyrillic_*)", async () => {
    await loadKeymap(display, "ru", "qwerty");
    await vi.waitFor(() => expect(injector.canType("ж")).toBe(true), { timeout: 10_000 });
    xev.clear();
    await type("жФ1");
    expect(await typed(3)).toEqual(["Cyrillic_zhe", "Cyrillic_EF", "1"]);
    // A Latin letter this layout has no key for borrows one.
    xev.clear();
    await type("q");
    expect(await typed(1)).toEqual(["q"]);
    // No key is pressed by its keysym through a lent keycode, as it may be lent again at any time
    // (that the lend re-reads nothing is keyboard-mapping-changes.test.ts's to check).
    await new Promise((r) => setTimeout(r, 500));
    expect(injector.canPress("Q")).toBe(false);
    await expect(injector.keyDown("Q")).rejects.toBeInstanceOf(KeyUnavailableError);
  });
});

/** Loads an XKB keymap (`layout`, e.g. "de") into the display's server, as a layout switcher would. */
function loadKeymap(display: TestDisplay, layout: string, aliases: "qwerty" | "qwertz") {
  const keymap = `xkb_keymap {
    xkb_keycodes { include "evdev+aliases(${aliases})" };
    xkb_types { include "complete" };
    xkb_compat { include "complete" };
    xkb_symbols { include "pc+${layout}+inet(evdev)" };
    xkb_geometry { include "pc(pc105)" };
  };`;
  return run("xkbcomp", ["-w", "0", "-", display.display], keymap);
}

function run(command: string, args: string[], input?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = execFile(command, args, (error, _stdout, stderr) =>
      error ? reject(new Error(`${command} ${args.join(" ")}: ${stderr || error.message}`)) : resolve(),
    );
    child.stdin?.end(input);
  });
}
