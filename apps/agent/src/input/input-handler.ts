/**
 * The `input` data channel's handler: decodes each frame, enforces the input budget, maps normalized
 * coordinates and key codes to the desktop, and injects in arrival order through one `Injector`.
 * It owns the "what is held down" state, so it can release everything when a viewer leaves and
 * repair modifiers whose key-up the browser never saw (Alt+Tab away from the viewer, say).
 *
 * Every message, releases included, spends the viewer's budget and a place in the queue. A release
 * that finds either exhausted is not dropped (that could leave a key down on the desktop): it turns
 * into a release of everything, queued once however many come, behind the queue's current tail and
 * ahead of every press still waiting (those are dropped). An input/release-all is always honoured
 * the same way. So a flood of releases costs at most one queue entry, and no key ever stays down.
 */
import type { Logger } from "@rd/log";
import {
  DATA_LIMITS,
  parseInputMessage,
  type InputMessage,
  type Modifiers,
  type SpecialKey,
  TokenBucket,
} from "@rd/protocol";
import type { Injector, PointerButton } from "./injector.ts";
import { keyForCode, UNSUPPORTED_CODES, type MappedKey } from "./keymap.ts";
import { createRateLimitedLog } from "./rate-limited-log.ts";

export interface InputHandlerOptions {
  injector: Injector;
  log: Logger;
  /** The desktop's size in pixels now; coordinates are mapped onto it. */
  screen: () => { width: number; height: number };
  /**
   * Events a second and burst, and how many injections may wait; the protocol's limits unless a
   * test needs others.
   */
  limits?: { perSecond: number; burst: number; maxQueued?: number };
  /** The token bucket's clock. */
  now?: () => number;
}

export interface InputStats {
  /** Messages that reached the desktop. */
  injected: number;
  /**
   * Messages refused: malformed, unknown key, over budget, a release of nothing held, folded into a
   * release-all already waiting, or failed to inject.
   */
  dropped: number;
  /** Pointer messages whose coordinates were outside 0..1 and were pulled onto the screen. */
  clamped: number;
}

export interface InputHandler {
  /** Handles one frame of the input channel. Never throws; a bad frame is dropped and logged. */
  handle(frame: unknown): void;
  /**
   * Releases every key and button the viewer holds, after dropping presses still queued. Never
   * refused; while one is waiting, another joins it.
   */
  releaseAll(): Promise<void>;
  /** Resolves once everything handled so far has been injected (or dropped). */
  idle(): Promise<void>;
  stats(): InputStats;
}

/** The keys behind each modifier flag a key event carries. */
const MODIFIER_KEYS: Record<keyof Modifiers, readonly MappedKey[]> = {
  ctrl: ["LeftControl", "RightControl"],
  shift: ["LeftShift", "RightShift"],
  alt: ["LeftAlt", "RightAlt"],
  meta: ["LeftSuper", "RightSuper"],
};

/** What each toolbar combo presses, in order; released in reverse. */
const COMBOS: Record<SpecialKey, readonly MappedKey[]> = {
  "ctrl-alt-del": ["LeftControl", "LeftAlt", "Delete"],
  "alt-tab": ["LeftAlt", "Tab"],
  "alt-f4": ["LeftAlt", "F4"],
  super: ["LeftSuper"],
  "print-screen": ["Print"],
  "ctrl-esc": ["LeftControl", "Escape"],
};

/**
 * Injections waiting at most, beyond which input is refused (a refused release becomes the one
 * waiting release-all, which may be one more). One burst's worth: the budget already bounds the
 * rate, this bounds memory if the desktop stalls.
 */
const MAX_QUEUED = DATA_LIMITS.inputBurst;

/** Character keys whose key-up is awaited at most: more than ten fingers' worth. */
const MAX_TYPED_CODES = 16;

export function createInputHandler(options: InputHandlerOptions): InputHandler {
  const { injector, screen } = options;
  const log = createRateLimitedLog(options.log);
  const limits = options.limits ?? { perSecond: DATA_LIMITS.inputPerSecond, burst: DATA_LIMITS.inputBurst };
  const budget = new TokenBucket(limits.perSecond, limits.burst, options.now ?? Date.now);
  const maxQueued = limits.maxQueued ?? MAX_QUEUED;
  const counters: InputStats = { injected: 0, dropped: 0, clamped: 0 };

  const heldKeys = new Set<MappedKey>();
  // The key codes whose presses were typed as characters: their key-ups have nothing to release.
  const typedCodes = new Set<string>();
  const heldButtons = new Set<PointerButton>();
  // Where this handler last put the pointer.
  let pointerAt: { x: number; y: number } | undefined;
  // Fractions of a wheel notch (trackpads send them) wait here until they add up to a whole one.
  const wheelRest = { dx: 0, dy: 0 };

  let tail: Promise<void> = Promise.resolve();
  let queued = 0;
  // Bumped by releaseAll: a press queued before it must not run after it and leave a key held.
  let epoch = 0;
  // The release-all queued and not started yet, which every later release-all joins.
  let waitingReleaseAll: Promise<void> | undefined;

  /** Runs `op` after everything queued before it; a failure is logged and counted, never thrown. */
  const enqueue = (what: string, op: () => Promise<void>): Promise<void> => {
    queued++;
    const run = tail
      .then(op)
      .catch((error: unknown) => {
        counters.dropped++;
        log.write("warn", `inject-${what}`, { err: error }, "input injection failed");
      })
      .finally(() => queued--);
    tail = run;
    return run;
  };

  /** Why the viewer may not queue one more message now, or undefined when it may (taking a token). */
  const refusal = (): "queue-full" | "over-budget" | undefined => {
    // The queue first: a message refused for a stalled desktop must not spend the viewer's budget.
    if (queued >= maxQueued) return "queue-full";
    return budget.take() ? undefined : "over-budget";
  };

  const REFUSED_MSG = {
    "queue-full": "input queue full; dropping input",
    "over-budget": "viewer over its input budget; dropping input",
  } as const;

  /**
   * Queues a press or move (true): over budget, over the queue limit or outlived by releaseAll, it
   * is dropped.
   */
  const enqueuePress = (what: string, op: () => Promise<void>): boolean => {
    const refused = refusal();
    if (refused) {
      drop("warn", refused, { queued }, REFUSED_MSG[refused]);
      return false;
    }
    const queuedIn = epoch;
    void enqueue(what, async () => {
      if (queuedIn !== epoch) return void counters.dropped++;
      await op();
      counters.injected++;
    });
    return true;
  };

  /**
   * Queues a release (`op` says whether it had anything to release). Refused, it becomes a
   * release-all rather than a drop, unless nothing is held or waiting that it could concern.
   */
  const enqueueRelease = (what: string, op: () => Promise<boolean>) => {
    const refused = refusal();
    if (refused) {
      drop("warn", refused, { queued }, REFUSED_MSG[refused]);
      if (heldKeys.size > 0 || heldButtons.size > 0 || queued > 0) void releaseAll();
      return;
    }
    void enqueue(what, async () => {
      if (await op()) counters.injected++;
      else counters.dropped++;
    });
  };

  const drop = (
    level: "debug" | "warn",
    kind: string,
    fields: Record<string, unknown>,
    msg: string,
  ): void => {
    counters.dropped++;
    log.write(level, kind, fields, msg);
  };

  /** Maps normalized coordinates onto the screen, clamping what lies outside it. */
  const toPixels = (x: number, y: number) => {
    const { width, height } = screen();
    const cx = Math.min(1, Math.max(0, x));
    const cy = Math.min(1, Math.max(0, y));
    if (cx !== x || cy !== y) counters.clamped++;
    return { x: Math.round(cx * (width - 1)), y: Math.round(cy * (height - 1)) };
  };

  /** Releases held modifiers the event says are up, except the event's own key. */
  const repairModifiers = async (modifiers: Modifiers, except?: MappedKey) => {
    for (const flag of Object.keys(MODIFIER_KEYS) as (keyof Modifiers)[]) {
      if (modifiers[flag]) continue;
      for (const key of MODIFIER_KEYS[flag]) {
        if (key === except || !heldKeys.has(key)) continue;
        heldKeys.delete(key);
        log.write("debug", "modifier-repair", { key }, "released a modifier the viewer no longer holds");
        await injector.keyUp(key);
      }
    }
  };

  const releaseHeld = async () => {
    wheelRest.dx = wheelRest.dy = 0;
    // Each release on its own: one failing must not leave the others held.
    for (const key of [...heldKeys]) {
      heldKeys.delete(key);
      await injector.keyUp(key).catch((error: unknown) => {
        log.write("warn", "release-failed", { key, err: error }, "could not release a key");
      });
    }
    for (const button of [...heldButtons]) {
      heldButtons.delete(button);
      await injector.buttonUp(button).catch((error: unknown) => {
        log.write("warn", "release-failed", { button, err: error }, "could not release a button");
      });
    }
  };

  /**
   * Queues one release of everything, after dropping every press still queued. One that is already
   * waiting is joined instead: whatever it would have to outrun is dropped by the new epoch, so it
   * releases all that this one would. That keeps a flood of release-alls to one queue entry.
   */
  const releaseAll = (): Promise<void> => {
    epoch++;
    typedCodes.clear();
    if (waitingReleaseAll) return waitingReleaseAll;
    const run = enqueue("release-all", async () => {
      waitingReleaseAll = undefined;
      await releaseHeld();
      counters.injected++;
    });
    waitingReleaseAll = run;
    return run;
  };

  /**
   * Moves the pointer to (x, y), except while a button is held and it is there already. A move of
   * no distance is still a motion event, and with a button down that is a drag: a click on a
   * window's resize grip (fluxbox's bottom corners) then collapsed the window to its smallest.
   * Outside a press the move always goes, in case someone at the machine moved the mouse.
   */
  const moveTo = async (x: number, y: number) => {
    if (heldButtons.size > 0 && pointerAt?.x === x && pointerAt.y === y) return;
    await injector.move(x, y);
    pointerAt = { x, y };
  };

  const dispatch = (message: InputMessage) => {
    switch (message.type) {
      case "input/pointer": {
        const { x, y } = toPixels(message.x, message.y);
        const button = message.button ?? 0;
        if (message.action === "move") {
          enqueuePress("move", () => moveTo(x, y));
        } else if (message.action === "down") {
          enqueuePress("button", async () => {
            await moveTo(x, y);
            heldButtons.add(button);
            await injector.buttonDown(button);
          });
        } else {
          enqueueRelease("button", async () => {
            // An up for a button not held (its down was dropped, or releaseAll came first) is moot.
            if (!heldButtons.has(button)) return false;
            await moveTo(x, y);
            heldButtons.delete(button);
            await injector.buttonUp(button);
            return true;
          });
        }
        return;
      }
      case "input/wheel": {
        wheelRest.dx += message.dx;
        wheelRest.dy += message.dy;
        const dx = Math.trunc(wheelRest.dx);
        const dy = Math.trunc(wheelRest.dy);
        if (dx === 0 && dy === 0) return;
        wheelRest.dx -= dx;
        wheelRest.dy -= dy;
        enqueuePress("wheel", () => injector.scroll(dx, dy));
        return;
      }
      case "input/key": {
        if (typeCharacter(message)) return;
        const key = keyForCode(message.code);
        // Only the code is logged: `key` is the typed character, and the log is no keylogger.
        if (!key) {
          const reason = UNSUPPORTED_CODES[message.code] ?? "unknown key code";
          return drop(
            "debug",
            "unknown-key",
            { code: message.code, reason },
            "dropping a key the agent cannot press",
          );
        }
        if (!injector.canPress(key)) {
          return drop(
            "debug",
            "unavailable-key",
            { code: message.code },
            "the desktop's keyboard layout lacks this key",
          );
        }
        const { modifiers } = message;
        if (message.action === "down") {
          enqueuePress("key", async () => {
            await repairModifiers(modifiers, key);
            heldKeys.add(key);
            await injector.keyDown(key);
          });
        } else {
          enqueueRelease("key", async () => {
            await repairModifiers(modifiers, key);
            if (!heldKeys.delete(key)) return false;
            await injector.keyUp(key);
            return true;
          });
        }
        return;
      }
      case "input/special": {
        const keys = COMBOS[message.combo];
        const missing = keys.filter((key) => !injector.canPress(key));
        if (missing.length > 0) {
          return drop(
            "warn",
            "unavailable-combo",
            { combo: message.combo, missing },
            "the layout lacks a combo key",
          );
        }
        enqueuePress("special", async () => {
          const pressed: MappedKey[] = [];
          try {
            for (const key of keys) {
              await injector.keyDown(key);
              pressed.push(key);
            }
          } finally {
            for (const key of pressed.reverse()) {
              heldKeys.delete(key);
              await injector.keyUp(key);
            }
          }
        });
        return;
      }
      case "input/release-all": {
        // It spends the budget like any message, so a flood of them slows the viewer's presses too,
        // but it is honoured either way: a viewer that lost focus must not leave keys down.
        const refused = refusal();
        if (refused) log.write("warn", refused, { queued }, REFUSED_MSG[refused]);
        if (waitingReleaseAll) counters.dropped++;
        void releaseAll();
        return;
      }
    }
  };

  /**
   * Types a key that made a character as that character, on the desktop's layout (true), rather
   * than by its position: what the viewer saw typed is what the desktop gets, whatever Shift
   * either side holds and whatever their layouts. A key pressed with Control, Alt or Meta is a
   * shortcut and goes by its position (false), as do keys that make no character. The character
   * is typed whole at the key-down (a tap, see x-typist.ts), so its key-up has nothing left to do.
   */
  const typeCharacter = (message: Extract<InputMessage, { type: "input/key" }>): boolean => {
    const { code, key: character, modifiers } = message;
    if (message.action === "up") return typedCodes.delete(code);
    const shortcut = modifiers.ctrl || modifiers.alt || modifiers.meta;
    if (shortcut || !injector.canType(character)) {
      // A repeat that turned into a shortcut (Control pressed meanwhile): its key-up is one again.
      typedCodes.delete(code);
      return false;
    }
    const byPosition = keyForCode(code);
    const queued = enqueuePress("character", async () => {
      await repairModifiers(modifiers);
      // Held by its position (a shortcut's repeat whose Control went up meanwhile): up first.
      if (byPosition && heldKeys.delete(byPosition)) await injector.keyUp(byPosition);
      if (await injector.typeCharacter(character, [...heldKeys])) return;
      // The layout changed between this message and its turn: the key goes by its position.
      if (!byPosition || !injector.canPress(byPosition)) throw new Error("the layout has no key for it now");
      await injector.keyDown(byPosition);
      await injector.keyUp(byPosition);
    });
    if (queued) {
      typedCodes.add(code);
      // Only a key-up takes a code out; a viewer that never sends them must not grow this.
      if (typedCodes.size > MAX_TYPED_CODES) typedCodes.delete(typedCodes.values().next().value!);
    }
    return true;
  };

  return {
    handle(frame) {
      try {
        const parsed = parseInputMessage(frame);
        if (!parsed.ok)
          return drop("warn", "malformed", { error: parsed.error }, "dropping a malformed input message");
        dispatch(parsed.message);
      } catch (error) {
        drop("warn", "handler-error", { err: error }, "input message handling failed");
      }
    },
    releaseAll,
    idle: () => tail,
    stats: () => ({ ...counters }),
  };
}
