/**
 * The input handler end to end on a real desktop: Xvfb, the real nut-js injector, and xterms running
 * `cat > file`, so what a viewer's messages typed is read back from the file. No window manager: it
 * would grab the very combos (Ctrl+Alt+Del quits fluxbox) whose arrival the last cases check.
 */
import { execFile } from "node:child_process";
import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@rd/log";
import { DATA_LIMITS, type Modifiers } from "@rd/protocol";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import {
  pointerLocation,
  startDisplay,
  startTerminal,
  windowGeometry,
  type TestDisplay,
} from "../testing/display.ts";
import { startEventWindow, type EventWindow, type XEvent } from "../testing/x-events.ts";
import { createInputHandler, type InputHandler, type InputHandlerOptions } from "./input-handler.ts";
import { createNutInjector, type Injector } from "./injector.ts";

const log = createLogger("silent", { name: "agent", module: "input-test" });
const WIDTH = 1024;
const HEIGHT = 768;

const up: Modifiers = { ctrl: false, shift: false, alt: false, meta: false };
const key = (action: "down" | "up", code: string, modifiers: Partial<Modifiers> = {}) =>
  JSON.stringify({ type: "input/key", action, code, key: "", modifiers: { ...up, ...modifiers } });
const tap = (code: string, modifiers: Partial<Modifiers> = {}) => [
  key("down", code, modifiers),
  key("up", code, modifiers),
];
const pointer = (action: "move" | "down" | "up", x: number, y: number, button?: 0 | 1 | 2) =>
  JSON.stringify({ type: "input/pointer", action, x, y, ...(button === undefined ? {} : { button }) });

describe("the input handler on a real desktop", () => {
  let display: TestDisplay;
  let injector: Injector;
  let handler: InputHandler;
  const cleanup: (() => Promise<unknown> | void)[] = [];

  beforeAll(async () => {
    display = await startDisplay({ width: WIDTH, height: HEIGHT });
    injector = await createNutInjector({ display: display.display, log });
    handler = newHandler();
  });
  afterAll(async () => {
    for (const fn of cleanup.reverse()) await fn();
    injector?.close();
    await display?.close();
  });

  const newHandler = (options: Partial<InputHandlerOptions> = {}) =>
    createInputHandler({ injector, log, screen: () => ({ width: WIDTH, height: HEIGHT }), ...options });

  const send = async (frames: string[], to: InputHandler = handler) => {
    for (const frame of frames) to.handle(frame);
    await to.idle();
  };

  /** A focused xterm whose typed lines land in a file; `typed()` reads that file. */
  const terminal = async (options: { geometry?: string; before?: string } = {}) => {
    const file = path.join(tmpdir(), `rd-input-${process.pid}-${Math.random().toString(36).slice(2)}.txt`);
    const command = `${options.before ?? ""}cat > ${file}`;
    const term = await startTerminal(display.display, command, { geometry: options.geometry });
    cleanup.push(
      () => term.close(),
      () => rm(file, { force: true }),
    );
    const typed = () => readFile(file, "utf8").catch(() => "");
    const expectTyped = (text: string) =>
      vi.waitFor(async () => expect(await typed()).toBe(text), { timeout: 10_000 });
    return { ...term, typed, expectTyped };
  };

  it("moves the pointer to the mapped pixel", async () => {
    await send([pointer("move", 0.25, 0.5)]);
    expect(await pointerLocation(display.display)).toEqual({
      x: Math.round(0.25 * (WIDTH - 1)),
      y: Math.round(0.5 * (HEIGHT - 1)),
    });
  });

  it("clamps coordinates outside the screen to its edge", async () => {
    const before = handler.stats().clamped;
    await send([pointer("move", -3, 7)]);
    expect(await pointerLocation(display.display)).toEqual({ x: 0, y: HEIGHT - 1 });
    expect(handler.stats().clamped).toBe(before + 1);
  });

  it("types into the focused window: h, i, Shift+1 and Enter give 'hi!\\n'", async () => {
    const term = await terminal();
    await send([
      ...tap("KeyH"),
      ...tap("KeyI"),
      key("down", "ShiftLeft", { shift: true }),
      ...tap("Digit1", { shift: true }),
      key("up", "ShiftLeft"),
      ...tap("Enter"),
    ]);
    await term.expectTyped("hi!\n");
  });

  it("types the characters the viewer's keys made, whatever Shift or layout the viewer has", async () => {
    const term = await terminal();
    const made = (code: string, character: string, modifiers: Partial<Modifiers> = {}) => [
      JSON.stringify({
        type: "input/key",
        action: "down",
        code,
        key: character,
        modifiers: { ...up, ...modifiers },
      }),
      JSON.stringify({
        type: "input/key",
        action: "up",
        code,
        key: character,
        modifiers: { ...up, ...modifiers },
      }),
    ];
    await send([
      // An on-screen keyboard or a script: shifted characters with no Shift held.
      ...[
        "Digit4:$",
        "Digit9:(",
        "Digit9:(",
        "Digit4:4",
        "Equal:+",
        "Digit5:5",
        "Digit0:)",
        "Digit0:)",
      ].flatMap((pair) => made(pair.split(":")[0]!, pair.split(":")[1]!)),
      // A French keyboard: "1" is Shift+&, on the desktop it is the plain 1; "a" is where US has Q.
      key("down", "ShiftLeft", { shift: true }),
      ...made("Digit1", "1", { shift: true }),
      key("up", "ShiftLeft"),
      ...made("KeyQ", "a"),
      // AltGr on Windows: Control and Alt went down by their codes, the "@" it made lifts them.
      key("down", "ControlLeft", { ctrl: true }),
      key("down", "AltRight", { ctrl: true, alt: true }),
      ...made("KeyQ", "@"),
      key("up", "AltRight", { ctrl: true }),
      key("up", "ControlLeft"),
      // A key with no code (an on-screen keyboard's) that made a character.
      ...made("Unidentified", "x"),
      // A French "é" the US layout has no key for: a spare keycode is bound to it.
      ...made("Digit2", "é"),
      ...tap("Enter"),
    ]);
    await term.expectTyped("$((4+5))1a@xé\n");
  });

  it("clicks in an xterm: a left double click selects a word, a middle click pastes it", async () => {
    const term = await terminal({ geometry: "40x5+100+100", before: "printf 'selectme\\n'; " });
    const g = await windowGeometry(display.display, term.windowId);
    // Inside the word on the first row, whatever xterm's font: 20 px in, 8 px down.
    const x = (g.x + 20) / (WIDTH - 1);
    const y = (g.y + 8) / (HEIGHT - 1);
    const click = (button: 0 | 1) => [pointer("down", x, y, button), pointer("up", x, y, button)];
    await send([pointer("move", x, y), ...click(0), ...click(0)]);
    await vi.waitFor(async () => expect(await primarySelection(display)).toBe("selectme"), {
      timeout: 10_000,
    });
    await send([...click(1), ...tap("Enter")]);
    await term.expectTyped("selectme\n");
  });

  it("releases a held Shift on releaseAll, so the next letter is lowercase", async () => {
    const term = await terminal();
    await send([key("down", "ShiftLeft", { shift: true })]);
    await handler.releaseAll();
    await send([...tap("KeyA"), ...tap("Enter")]);
    await term.expectTyped("a\n");
  });

  it("releases a held Shift on an input/release-all message", async () => {
    const term = await terminal();
    await send([key("down", "ShiftRight", { shift: true }), JSON.stringify({ type: "input/release-all" })]);
    await send([...tap("KeyA"), ...tap("Enter")]);
    await term.expectTyped("a\n");
  });

  it("repairs a Shift whose key-up the viewer missed, from the next key's modifiers", async () => {
    const term = await terminal();
    await send([key("down", "ShiftLeft", { shift: true })]);
    // The viewer lost focus while Shift was down and never saw it go up; its next key says so.
    await send([...tap("KeyB"), ...tap("Enter")]);
    await term.expectTyped("b\n");
  });

  it("drops presses queued before releaseAll, so nothing is pressed after it", async () => {
    const term = await terminal();
    handler.handle(key("down", "KeyZ"));
    handler.handle(key("down", "ShiftLeft", { shift: true }));
    await handler.releaseAll();
    await send([...tap("KeyY"), ...tap("Enter")]);
    await term.expectTyped("y\n");
  });

  it("drops 5,000 malformed, oversize and unknown-key frames without throwing, then still types", async () => {
    const term = await terminal();
    const bad = [
      "not json",
      "{}",
      JSON.stringify({ type: "input/pointer", action: "move", x: "1", y: 0 }),
      JSON.stringify({ type: "input/key", action: "down", code: "KeyA", key: "a" }),
      JSON.stringify({ type: "input/wheel", dx: 0, dy: 1e9 }),
      JSON.stringify({ type: "input/nope" }),
      "x".repeat(DATA_LIMITS.maxMessageBytes + 1),
      new Uint8Array([1, 2, 3]),
      null,
      42,
      key("down", "Lang1"),
      key("down", "Pause"),
      key("down", "NotAKey"),
      key("down", "F13"), // no keycode in Xvfb's layout: pressing it would kill the process
    ];
    const before = handler.stats();
    const lines: string[] = [];
    const recording = { ...log, warn: (_: unknown, msg: string) => void lines.push(msg), debug: () => {} };
    // A fresh budget, so the flood's unknown keys are refused for what they are, not for the rate.
    const flooded = newHandler({ log: recording });
    expect(() => {
      for (let i = 0; i < 5_000; i++) flooded.handle(bad[i % bad.length]);
    }).not.toThrow();
    await flooded.idle();
    expect(flooded.stats()).toEqual({ injected: 0, dropped: 5_000, clamped: 0 });
    // One line per kind of problem, not one per frame.
    expect(lines).toEqual(["dropping a malformed input message"]);
    await send([...tap("KeyO"), ...tap("KeyK"), ...tap("Enter")], flooded);
    await term.expectTyped("ok\n");
    expect(handler.stats()).toEqual(before);
  });

  it("drops a flood beyond the budget, and turns a refused release into a release of everything", async () => {
    const term = await terminal();
    // A frozen clock: the bucket never refills, so what is dropped is exact.
    const limited = newHandler({ limits: { perSecond: 1, burst: 4 }, now: () => 0 });
    await send([key("down", "ShiftLeft", { shift: true })], limited); // token 1: Shift is down
    await send(
      [
        ...Array.from({ length: 20 }, (_, i) => pointer("move", i / 20, 0.5)), // tokens 2-4, then 17 dropped
        key("down", "KeyQ", { shift: true }), // dropped: over budget
        key("up", "ShiftLeft"), // over budget too: everything goes up, the three queued moves are dropped
        key("up", "KeyQ", { shift: true }), // over budget, joins the release-all already waiting
      ],
      limited,
    );
    // Injected: Shift down and the release-all. Dropped: 17 + 3 moves, Q down, both key-ups.
    expect(limited.stats()).toMatchObject({ injected: 2, dropped: 23 });
    // Shift is up again: the next letter, through the unlimited handler, is lowercase.
    await send([...tap("KeyC"), ...tap("Enter")]);
    await term.expectTyped("c\n");
  });

  it("honours an input/release-all even when the budget is spent", async () => {
    const term = await terminal();
    const limited = newHandler({ limits: { perSecond: 1, burst: 1 }, now: () => 0 });
    await send([key("down", "ShiftRight", { shift: true })], limited);
    await send([JSON.stringify({ type: "input/release-all" })], limited);
    await send([...tap("KeyD"), ...tap("Enter")]);
    await term.expectTyped("d\n");
  });

  it("holds key-ups and release-alls to the queue limit: a flood of them costs a few injections", async () => {
    const term = await terminal();
    const limited = newHandler({ limits: { perSecond: 1, burst: 100_000, maxQueued: 8 }, now: () => 0 });
    limited.handle(key("down", "ShiftLeft", { shift: true }));
    for (let i = 0; i < 2_000; i++) {
      limited.handle(key("up", "KeyA"));
      limited.handle(JSON.stringify({ type: "input/release-all" }));
    }
    await limited.idle();
    // Each message was handled, but at most a queue's worth of them (plus the one release-all) ran.
    const { injected, dropped } = limited.stats();
    expect(injected).toBeLessThanOrEqual(9);
    expect(injected + dropped).toBeGreaterThanOrEqual(4_001);
    // And Shift, whatever ran first, is up.
    await send([...tap("KeyE"), ...tap("Enter")]);
    await term.expectTyped("e\n");
  });

  describe("what reaches X", () => {
    let xev: EventWindow;
    beforeAll(async () => {
      xev = await startEventWindow(display.display);
      cleanup.push(() => xev.close());
    });

    /** The next `count` events X delivered to the focused window (after the handler is idle). */
    const events = async (count: number) => {
      await handler.idle();
      await vi.waitFor(() => expect(xev.events().length).toBeGreaterThanOrEqual(count), { timeout: 5_000 });
      const seen = xev.events();
      xev.clear();
      return seen;
    };

    const keys = (seen: XEvent[]) => seen.map((e) => ("keysym" in e ? `${e.type} ${e.keysym}` : e.type));

    it("presses ctrl-alt-del as Control, Alt, Delete and releases them in reverse", async () => {
      handler.handle(JSON.stringify({ type: "input/special", combo: "ctrl-alt-del" }));
      expect(keys(await events(6))).toEqual([
        "KeyPress Control_L",
        "KeyPress Alt_L",
        "KeyPress Delete",
        "KeyRelease Delete",
        "KeyRelease Alt_L",
        "KeyRelease Control_L",
      ]);
    });

    it("types a shifted character as a tap inside Shift, and its key-up does nothing more", async () => {
      const made = { type: "input/key", code: "Digit4", key: "$", modifiers: up };
      handler.handle(JSON.stringify({ ...made, action: "down" }));
      expect(keys(await events(4))).toEqual([
        "KeyPress Shift_L",
        "KeyPress dollar",
        "KeyRelease dollar",
        "KeyRelease Shift_L",
      ]);
      const before = handler.stats();
      await send([JSON.stringify({ ...made, action: "up" })]);
      expect(handler.stats()).toEqual(before);
      // Held Shift (a French viewer's "1"): lifted for the tap, held again after it.
      handler.handle(key("down", "ShiftLeft", { shift: true }));
      handler.handle(
        JSON.stringify({
          ...made,
          code: "Digit1",
          key: "1",
          modifiers: { ...up, shift: true },
          action: "down",
        }),
      );
      handler.handle(key("up", "ShiftLeft"));
      expect(keys(await events(6))).toEqual([
        "KeyPress Shift_L",
        "KeyRelease Shift_L",
        "KeyPress 1",
        "KeyRelease 1",
        "KeyPress Shift_L",
        "KeyRelease Shift_L",
      ]);
    });

    it("taps Super for the super combo and Print for print-screen", async () => {
      handler.handle(JSON.stringify({ type: "input/special", combo: "super" }));
      handler.handle(JSON.stringify({ type: "input/special", combo: "print-screen" }));
      expect(keys(await events(4))).toEqual([
        "KeyPress Super_L",
        "KeyRelease Super_L",
        "KeyPress Print",
        "KeyRelease Print",
      ]);
    });

    it("adds up fractional wheel steps into whole notches", async () => {
      await send([pointer("move", 0.1, 0.1)]);
      for (let i = 0; i < 5; i++) handler.handle(JSON.stringify({ type: "input/wheel", dx: 0, dy: 0.5 }));
      // Five half notches: two whole ones now, the half left over waits for the next event.
      handler.handle(JSON.stringify({ type: "input/wheel", dx: 0, dy: -0.5 }));
      handler.handle(JSON.stringify({ type: "input/wheel", dx: 0, dy: -1 }));
      expect(await events(6)).toEqual([
        { type: "ButtonPress", button: 5 },
        { type: "ButtonRelease", button: 5 },
        { type: "ButtonPress", button: 5 },
        { type: "ButtonRelease", button: 5 },
        { type: "ButtonPress", button: 4 },
        { type: "ButtonRelease", button: 4 },
      ]);
    });
  });
});

/** The PRIMARY selection's text: what a selection in an xterm copies. */
function primarySelection(display: TestDisplay): Promise<string> {
  return new Promise((resolve) => {
    execFile("xclip", ["-display", display.display, "-selection", "primary", "-o"], (error, stdout) =>
      resolve(error ? "" : stdout),
    );
  });
}
