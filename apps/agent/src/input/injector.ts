/**
 * The injector: the one place that presses keys and moves the pointer on the real desktop, through
 * nut-js (XTest on Linux). Everything above it speaks in screen pixels and nut-js key names, so the
 * input handler can be driven by any `Injector`.
 *
 * nut-js is imported lazily and only after the display has been checked with a real X client:
 * libnut calls XOpenDisplay without checking the result, so with no (or an unreachable) display it
 * segfaults instead of throwing.
 */
import type { Logger } from "@rd/log";
import { xAuthorityFor } from "../child-env.ts";
import { type KeyboardMappingChanges, watchKeyboardMapping } from "./keyboard-mapping-changes.ts";
import type { MappedKey } from "./keymap.ts";
import { MODIFIER_KEYSYMS } from "./characters.ts";
import { KEYSYMS, readKeysyms } from "./x-keymap.ts";
import { XScreenSize } from "./x-screen.ts";
import { XTypist } from "./x-typist.ts";

/** `MouseEvent.button`: 0 left, 1 middle, 2 right. */
export type PointerButton = 0 | 1 | 2;

export interface Injector {
  /** Moves the pointer to a pixel of the screen. */
  move(x: number, y: number): Promise<void>;
  buttonDown(button: PointerButton): Promise<void>;
  buttonUp(button: PointerButton): Promise<void>;
  /** Whole wheel notches: positive `dy` scrolls down, positive `dx` right. */
  scroll(dx: number, dy: number): Promise<void>;
  /** False when the desktop's keyboard layout cannot produce `key`; pressing it would then fail. */
  canPress(key: MappedKey): boolean;
  keyDown(key: MappedKey): Promise<void>;
  keyUp(key: MappedKey): Promise<void>;
  /**
   * True when `character` (one character) can be typed as itself: the desktop's layout has a key
   * for it (Shift or AltGr at most), or a spare keycode can be bound to it. False when the agent
   * cannot type characters at all (its XTest connection failed); the key then goes by its
   * position, as `keyDown` does.
   */
  canType(character: string): boolean;
  /**
   * Taps the key that types `character` on the desktop's layout, with the Shift and AltGr it
   * needs; of the modifier keys in `held` (held through `keyDown`), those that would change it are
   * lifted for the tap. Resolves false, having pressed nothing, when the layout cannot type it now.
   */
  typeCharacter(character: string, held: readonly MappedKey[]): Promise<boolean>;
  /** The screen's size now, in pixels; it follows resolution changes. */
  screenSize(): Promise<{ width: number; height: number }>;
  /** Stops background work (the layout refresh). The desktop itself is left alone. */
  close(): void;
}

export interface NutInjectorOptions {
  /** The X display to inject into, e.g. ":0"; from the agent's config. */
  display: string | undefined;
  log: Logger;
  /**
   * How often to re-read the keyboard layout, which the desktop's user may switch at any time, when
   * the X server cannot report the switches (they are watched otherwise).
   */
  layoutRefreshMs?: number;
}

/** Thrown by keyDown/keyUp for a key the current layout cannot produce. */
export class KeyUnavailableError extends Error {
  readonly key: MappedKey;
  constructor(key: MappedKey) {
    super(`the keyboard layout has no key for ${key} (keysym ${KEYSYMS[key]})`);
    this.key = key;
  }
}

/**
 * Without the server's change reports: a layout switch is rare, but until the guard sees it a key
 * the new layout lacks could still be pressed (and kill the process), so look every two seconds.
 */
const DEFAULT_LAYOUT_REFRESH_MS = 2_000;
/** With no key pressed for this long the agent stops looking (bench:desks: it was a third of an idle desk's CPU). */
const LAYOUT_IDLE_MS = 30_000;

let openedDisplay: string | undefined;

/**
 * Creates the nut-js injector for `display`. Rejects with an actionable message when there is no
 * display, the display cannot be reached, or the XTest library is missing.
 */
export async function createNutInjector(options: NutInjectorOptions): Promise<Injector> {
  const { display, log } = options;
  if (!display) {
    throw new Error(
      "cannot inject input: DISPLAY is not set (the agent needs an X11 session, e.g. DISPLAY=:0)",
    );
  }
  // libnut opens the display once per process and keeps it: a second display would silently be
  // the first one.
  if (openedDisplay !== undefined && openedDisplay !== display) {
    throw new Error(`cannot inject into ${display}: this process already injects into ${openedDisplay}`);
  }
  let keysyms = await readKeysyms(display);
  // libnut reads DISPLAY (and libX11 XAUTHORITY, for the cookie) from the process environment when
  // it first opens the display.
  process.env.DISPLAY = display;
  const xauthority = xAuthorityFor(display);
  if (xauthority) process.env.XAUTHORITY = xauthority;
  openedDisplay = display;

  let nut: typeof import("@nut-tree-fork/nut-js");
  try {
    nut = await import("@nut-tree-fork/nut-js");
    // The first call loads libnut's native code, which is where a missing libXtst shows.
    await nut.screen.width();
  } catch (error) {
    throw explainNativeError(error);
  }
  const { Button, Key, Point, keyboard, mouse, providerRegistry, screen } = nut;
  // No pauses between events: the viewer's own timing is the timing. nut-js sleeps autoDelayMs in
  // JavaScript and libnut sleeps its own delay natively after every event; both default to 100-300 ms.
  mouse.config.autoDelayMs = 0;
  keyboard.config.autoDelayMs = 0;
  providerRegistry.getMouse().setMouseDelay(0);
  providerRegistry.getKeyboard().setKeyboardDelay(0);

  // Types characters (opened below). The keycodes it lends to characters are no change of layout,
  // and no key is pressed by its keysym through them.
  let typist: XTypist | undefined = undefined;
  const refreshLayout = async () => {
    const fresh = await readKeysyms(display, new Set(typist?.borrowedKeycodes()));
    // Closed meanwhile: the display may be going away, and libnut's Xlib exits the process on a
    // connection it finds broken.
    if (closed || sameSet(fresh, keysyms)) return;
    // libnut's Xlib only learns of a new layout when it next reads from the server; a round trip
    // now makes its keycode lookups agree with the set the guard is about to trust.
    await mouse.getPosition();
    keysyms = fresh;
    log.info({ keysyms: fresh.size }, "keyboard layout changed");
  };
  // One read at a time; a change reported meanwhile is read after it (a switcher sends several).
  let refreshing = false;
  let refreshAgain = false;
  const refreshNow = () => {
    if (refreshing) {
      refreshAgain = true;
      return;
    }
    refreshing = true;
    refreshLayout()
      .catch((error: unknown) =>
        log.warn({ err: error }, "cannot re-read the keyboard layout; keeping the last one"),
      )
      .finally(() => {
        refreshing = false;
        if (refreshAgain) {
          refreshAgain = false;
          refreshNow();
        }
      });
  };

  // The server says when the mapping changes (keyboard-mapping-changes.ts). Should that fail, the
  // layout is read every few seconds instead, only while someone types: an idle agent (a desk
  // nobody drives) runs no xmodmap at all; after a quiet spell the next key press reads it first.
  let lastKeyAt = -Infinity;
  let stale = false;
  let polling: ReturnType<typeof setInterval> | undefined;
  let closed = false;
  const pollLayout = (error: unknown, what: string) => {
    if (closed || polling) return;
    log.warn({ err: error }, `${what}; re-reading the keyboard layout every few seconds instead`);
    polling = setInterval(() => {
      if (performance.now() - lastKeyAt > LAYOUT_IDLE_MS) {
        stale = true;
        return;
      }
      refreshNow();
    }, options.layoutRefreshMs ?? DEFAULT_LAYOUT_REFRESH_MS);
    polling.unref();
  };
  let mappingChanges: KeyboardMappingChanges | undefined;
  try {
    mappingChanges = await watchKeyboardMapping(
      display,
      xauthority,
      refreshNow,
      (error) => pollLayout(error, "lost the keyboard mapping's change reports"),
      () => typist?.borrowedKeycodes() ?? [],
    );
    // A switch between the first read and the watch is read now.
    refreshNow();
  } catch (error) {
    pollLayout(error, "cannot watch the keyboard mapping for changes");
  }

  // Characters are typed through XTest on a connection of the agent's own (nut-js presses only
  // the keys of its list). Without it, keys go by their position alone, as they always could.
  typist = await XTypist.open(display, xauthority, (error) =>
    log.warn({ err: error }, "the X server refused a typed character"),
  ).catch((error: unknown) => {
    log.warn({ err: error }, "cannot type characters as themselves; keys go by their position");
    return undefined;
  });

  const rootSize = new XScreenSize(display);
  const buttons = { 0: Button.LEFT, 1: Button.MIDDLE, 2: Button.RIGHT } as const;
  const canPress = (key: MappedKey) => keysyms.has(KEYSYMS[key]);
  const press = async (key: MappedKey, down: boolean) => {
    lastKeyAt = performance.now();
    // Only when polling (the change reports failed): the layout may have changed unseen.
    if (stale) {
      stale = false;
      await refreshLayout().catch((error: unknown) =>
        log.warn({ err: error }, "cannot re-read the keyboard layout; keeping the last one"),
      );
    }
    if (!canPress(key)) throw new KeyUnavailableError(key);
    if (down) await keyboard.pressKey(Key[key]);
    else await keyboard.releaseKey(Key[key]);
  };

  return {
    move: async (x, y) => void (await mouse.setPosition(new Point(x, y))),
    buttonDown: async (button) => void (await mouse.pressButton(buttons[button])),
    buttonUp: async (button) => void (await mouse.releaseButton(buttons[button])),
    scroll: async (dx, dy) => {
      if (dy > 0) await mouse.scrollDown(dy);
      if (dy < 0) await mouse.scrollUp(-dy);
      // libnut's X11 backend has the horizontal buttons the wrong way round (scrollLeft sends
      // button 7, which X means as right), so right is asked for as left and vice versa.
      if (dx > 0) await mouse.scrollLeft(dx);
      if (dx < 0) await mouse.scrollRight(-dx);
    },
    canPress,
    keyDown: (key) => press(key, true),
    keyUp: (key) => press(key, false),
    canType: (character) => typist?.canType(character) ?? false,
    typeCharacter: async (character, held) => {
      lastKeyAt = performance.now();
      if (!typist) return false;
      return typist.type(
        character,
        held.flatMap((key) => MODIFIER_KEYSYMS[KEYSYMS[key]] ?? []),
      );
    },
    screenSize: () =>
      rootSize.read().catch(async (error: unknown) => {
        log.debug({ err: error }, "cannot ask the X server for the screen size; asking libnut");
        return { width: await screen.width(), height: await screen.height() };
      }),
    close: () => {
      closed = true;
      clearInterval(polling);
      mappingChanges?.close();
      typist?.close();
      rootSize.close();
    },
  };
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const item of a) if (!b.has(item)) return false;
  return true;
}

/** Turns a failure to load libnut into an instruction, when it is one we know. */
export function explainNativeError(error: unknown): Error {
  const message = error instanceof Error ? error.message : String(error);
  if (/libXtst/i.test(message)) {
    return new Error(
      `cannot inject input: the XTest library is missing; install libxtst6: sudo apt-get install -y libxtst6 (${message})`,
      { cause: error },
    );
  }
  return new Error(`cannot load nut-js for input injection: ${message}`, { cause: error });
}
