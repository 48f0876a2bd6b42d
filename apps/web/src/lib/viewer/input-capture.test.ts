import { type InputMessage, parseInputMessage } from "@rd/protocol";
import { beforeEach, describe, expect, it } from "vitest";
import { attachInputCapture, type InputCapture, type InputCaptureOptions } from "./input-capture.ts";

/**
 * Node has EventTarget but no DOM: the surface, video and document are event targets with the few
 * members the capture reads, and events are plain Events carrying the fields a browser would set.
 */
class FakeSurface extends EventTarget {
  focused = 0;
  contains?: (other: unknown) => boolean;
  captured = new Set<number>();
  focus() {
    this.focused += 1;
  }
  setPointerCapture(id: number) {
    this.captured.add(id);
  }
  releasePointerCapture(id: number) {
    this.captured.delete(id);
  }
}

class FakeDocument extends EventTarget {
  visibilityState: DocumentVisibilityState = "visible";
  activeElement: unknown = null;
}

function event(type: string, fields: Record<string, unknown> = {}): Event {
  return Object.assign(new Event(type, { cancelable: true }), fields);
}

const key = (type: "keydown" | "keyup", code: string, key: string, mods: Record<string, unknown> = {}) =>
  event(type, {
    code,
    key,
    ctrlKey: false,
    shiftKey: false,
    altKey: false,
    metaKey: false,
    isComposing: false,
    ...mods,
  });

describe("attachInputCapture", () => {
  let surface: FakeSurface;
  let doc: FakeDocument;
  let sent: InputMessage[];
  let frames: (() => void)[];
  let enabled: boolean;
  let capture: InputCapture;
  // A 1600×900 picture in an 800×800 element: letterboxed, picture from y=175 to y=625.
  const video = {
    videoWidth: 1600,
    videoHeight: 900,
    getBoundingClientRect: () => ({ left: 0, top: 0, width: 800, height: 800 }),
  };
  const runFrame = () => frames.splice(0).forEach((f) => f());

  /** Attaches the capture under test in place of the last one: the fakes above, unless overridden. */
  const attach = (overrides: Partial<InputCaptureOptions> = {}) => {
    capture?.detach();
    capture = attachInputCapture({
      surface,
      video,
      document: doc,
      send: (m) => sent.push(m),
      enabled: () => enabled,
      onShortcut: (e) => e.ctrlKey && e.altKey && e.shiftKey && e.code === "KeyF",
      requestFrame: (f) => frames.push(f),
      cancelFrame: () => frames.splice(0),
      ...overrides,
    });
  };

  beforeEach(() => {
    surface = new FakeSurface();
    doc = new FakeDocument();
    sent = [];
    frames = [];
    enabled = true;
    attach();
  });

  it("sends clicks at positions normalized to the picture, not the letterbox", () => {
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
    surface.dispatchEvent(event("pointerup", { clientX: 200, clientY: 175, button: 0, pointerId: 1 }));
    expect(sent).toEqual([
      { type: "input/pointer", action: "down", x: 0.5, y: 0.5, button: 0 },
      { type: "input/pointer", action: "up", x: 0.25, y: 0, button: 0 },
    ]);
    expect(surface.focused).toBe(1);
  });

  it("sends the right and middle buttons, and ignores back/forward", () => {
    for (const button of [2, 1, 3]) {
      surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button, pointerId: 1 }));
      surface.dispatchEvent(event("pointerup", { clientX: 400, clientY: 400, button, pointerId: 1 }));
    }
    expect(sent.map((m) => m.type === "input/pointer" && `${m.action}${m.button}`)).toEqual([
      "down2",
      "up2",
      "down1",
      "up1",
    ]);
  });

  it("coalesces pointer moves to one per animation frame, the latest winning", () => {
    for (const x of [100, 200, 300])
      surface.dispatchEvent(event("pointermove", { clientX: x, clientY: 400 }));
    expect(sent).toEqual([]);
    runFrame();
    expect(sent).toEqual([{ type: "input/pointer", action: "move", x: 0.375, y: 0.5 }]);
    runFrame();
    expect(sent).toHaveLength(1);
  });

  it("keeps measuring on the last picture while the element swaps sources and has no size", () => {
    const swapping = { ...video };
    attach({ video: swapping });
    surface.dispatchEvent(event("pointermove", { clientX: 200, clientY: 400 }));
    runFrame();
    // Tiles to video: until the new source's first frame, the element reports 0 × 0.
    Object.assign(swapping, { videoWidth: 0, videoHeight: 0 });
    surface.dispatchEvent(event("pointermove", { clientX: 400, clientY: 400 }));
    runFrame();
    surface.dispatchEvent(event("pointerdown", { clientX: 600, clientY: 400, button: 0, pointerId: 1 }));
    expect(sent).toEqual([
      { type: "input/pointer", action: "move", x: 0.25, y: 0.5 },
      { type: "input/pointer", action: "move", x: 0.5, y: 0.5 },
      { type: "input/pointer", action: "down", x: 0.75, y: 0.5, button: 0 },
    ]);
  });

  it("sends nothing before the picture has ever had a size", () => {
    attach({ video: { ...video, videoWidth: 0, videoHeight: 0 } });
    surface.dispatchEvent(event("pointermove", { clientX: 400, clientY: 400 }));
    runFrame();
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
    expect(sent).toEqual([]);
  });

  it("ignores hovering over the letterbox, but keeps a drag going there, clamped to the edge", () => {
    surface.dispatchEvent(event("pointermove", { clientX: 400, clientY: 50 }));
    runFrame();
    expect(sent).toEqual([]);
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 7 }));
    expect(surface.captured.has(7)).toBe(true);
    surface.dispatchEvent(event("pointermove", { clientX: 400, clientY: 50 }));
    runFrame();
    expect(sent.at(-1)).toEqual({ type: "input/pointer", action: "move", x: 0.5, y: 0 });
  });

  it("does not start a click on the letterbox", () => {
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 50, button: 0, pointerId: 1 }));
    surface.dispatchEvent(event("pointerup", { clientX: 400, clientY: 50, button: 0, pointerId: 1 }));
    expect(sent).toEqual([]);
  });

  it("turns wheel pixels into whole notches with their sign, and stops the page scrolling", () => {
    const down = event("wheel", { deltaX: 0, deltaY: 250, deltaMode: 0 });
    surface.dispatchEvent(down);
    surface.dispatchEvent(event("wheel", { deltaX: 0, deltaY: -300, deltaMode: 0 }));
    expect(sent).toEqual([
      { type: "input/wheel", dx: 0, dy: 2 },
      { type: "input/wheel", dx: 0, dy: -3 },
    ]);
    expect(down.defaultPrevented).toBe(true);
  });

  it("sends keys with code, key and modifiers, and keeps them from the browser", () => {
    const down = key("keydown", "KeyA", "A", { shiftKey: true });
    surface.dispatchEvent(down);
    surface.dispatchEvent(key("keyup", "KeyA", "A", { shiftKey: true }));
    expect(sent).toEqual([
      {
        type: "input/key",
        action: "down",
        code: "KeyA",
        key: "A",
        modifiers: { ctrl: false, shift: true, alt: false, meta: false },
      },
      {
        type: "input/key",
        action: "up",
        code: "KeyA",
        key: "A",
        modifiers: { ctrl: false, shift: true, alt: false, meta: false },
      },
    ]);
    expect(down.defaultPrevented).toBe(true);
  });

  it("keeps viewer shortcuts (and their keyups) for the viewer", () => {
    const mods = { ctrlKey: true, altKey: true, shiftKey: true };
    surface.dispatchEvent(key("keydown", "KeyF", "F", mods));
    surface.dispatchEvent(key("keyup", "KeyF", "F", mods));
    expect(sent).toEqual([]);
  });

  it("skips IME composition and keys without a code that made no character", () => {
    surface.dispatchEvent(key("keydown", "KeyK", "Process", { isComposing: true }));
    surface.dispatchEvent(key("keydown", "", "Unidentified"));
    surface.dispatchEvent(key("keydown", "", "F13"));
    expect(sent).toEqual([]);
  });

  it("sends an on-screen keyboard's code-less Backspace and Enter by their names", () => {
    const backspace = key("keydown", "", "Backspace");
    surface.dispatchEvent(backspace);
    surface.dispatchEvent(key("keyup", "", "Backspace"));
    surface.dispatchEvent(key("keydown", "", "Enter"));
    surface.dispatchEvent(key("keyup", "", "Enter"));
    expect(sent.map((m) => m.type === "input/key" && `${m.action} ${m.code}`)).toEqual([
      "down Backspace",
      "up Backspace",
      "down Enter",
      "up Enter",
    ]);
    // Prevented, so a focused text field (text-entry.ts) does not delete a character of its own too.
    expect(backspace.defaultPrevented).toBe(true);
  });

  describe("with a text field inside the surface (text-entry.ts)", () => {
    const field = new EventTarget();
    let keysSent: number;
    /** An event that bubbled up from the field: its target is the field. */
    const fromField = (e: Event) => {
      Object.defineProperty(e, "target", { value: field });
      surface.dispatchEvent(e);
      return e;
    };
    beforeEach(() => {
      keysSent = 0;
      surface.contains = (other) => other === field || other === surface;
      attach({ enabled: () => true, textField: { element: field, sentKey: () => keysSent++ } });
    });

    it("keeps the focus in the field on a tap, which still clicks", () => {
      doc.activeElement = field;
      const tap = event("pointerdown", { clientX: 400, clientY: 10, button: 0, pointerId: 1 });
      surface.dispatchEvent(tap);
      // On the letterbox: nothing to click, and the browser's own focusing is prevented too.
      expect(tap.defaultPrevented).toBe(true);
      surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
      surface.dispatchEvent(event("pointerup", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
      expect(surface.focused).toBe(0);
      expect(sent.map((m) => m.type === "input/pointer" && m.action)).toEqual(["down", "up"]);
      doc.activeElement = null;
      surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
      expect(surface.focused).toBe(1);
    });

    it("leaves the field the characters it types, and says when it sent a key from there", () => {
      // iOS's on-screen key: no code; the field's text carries it.
      const character = fromField(key("keydown", "", "é"));
      expect(character.defaultPrevented).toBe(false);
      // A physical key, and an on-screen keyboard's code-less Backspace, go from here.
      fromField(key("keydown", "KeyA", "a"));
      fromField(key("keydown", "", "Backspace"));
      expect(sent.map((m) => m.type === "input/key" && `${m.action} ${m.code}`)).toEqual([
        "down KeyA",
        "down Backspace",
      ]);
      expect(keysSent).toBe(2);
    });

    it("leaves an input method's keys to it (Process, keyCode 229)", () => {
      fromField(key("keydown", "KeyN", "Process"));
      fromField(key("keydown", "", "Unidentified", { keyCode: 229 }));
      fromField(key("keyup", "KeyN", "n", { keyCode: 229 }));
      expect(sent).toEqual([]);
    });

    it("releases everything when the focus leaves the field for outside the surface, not for the surface", () => {
      fromField(key("keydown", "AltLeft", "Alt", { altKey: true }));
      sent = [];
      fromField(event("focusout", { relatedTarget: surface }));
      surface.dispatchEvent(event("focusout", { relatedTarget: field }));
      expect(sent).toEqual([]);
      fromField(event("focusout", { relatedTarget: null }));
      expect(sent).toEqual([{ type: "input/release-all" }]);
    });
  });

  it("sends an on-screen keyboard's character, which has no code, as an Unidentified key", () => {
    surface.dispatchEvent(key("keydown", "", "é"));
    surface.dispatchEvent(key("keyup", "", "é"));
    // A key-up that does not say what it was still goes up once a character went down.
    surface.dispatchEvent(key("keydown", "", "x"));
    surface.dispatchEvent(key("keyup", "", "Unidentified"));
    surface.dispatchEvent(key("keyup", "", "Unidentified"));
    expect(sent.map((m) => m.type === "input/key" && `${m.action} ${m.code} ${m.key}`)).toEqual([
      "down Unidentified é",
      "up Unidentified é",
      "down Unidentified x",
      "up Unidentified Unidentified",
    ]);
  });

  it("does not call AltGr's character a Control+Alt shortcut", () => {
    // Windows reports AltGr as Control and Alt held; the character is what it made.
    const altGraph = { ctrlKey: true, altKey: true, getModifierState: (name: string) => name === "AltGraph" };
    surface.dispatchEvent(key("keydown", "KeyQ", "@", altGraph));
    // A Control+Alt shortcut stays one, even where the browser says AltGraph for Control+Alt.
    surface.dispatchEvent(key("keydown", "KeyT", "t", altGraph));
    // So does AltGr on a key that makes no character (a dead key).
    surface.dispatchEvent(key("keydown", "BracketRight", "Dead", altGraph));
    expect(sent.map((m) => m.type === "input/key" && m.modifiers)).toEqual([
      { ctrl: false, shift: false, alt: false, meta: false },
      { ctrl: true, shift: false, alt: true, meta: false },
      { ctrl: true, shift: false, alt: true, meta: false },
    ]);
  });

  it("sends nothing and prevents nothing in view-only mode", () => {
    enabled = false;
    const down = key("keydown", "KeyA", "a");
    surface.dispatchEvent(down);
    const wheel = event("wheel", { deltaX: 0, deltaY: 100, deltaMode: 0 });
    surface.dispatchEvent(wheel);
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
    surface.dispatchEvent(event("pointermove", { clientX: 300, clientY: 400 }));
    runFrame();
    expect(sent).toEqual([]);
    expect(down.defaultPrevented).toBe(false);
    expect(wheel.defaultPrevented).toBe(false);
    expect(surface.focused).toBe(1);
  });

  it("releases everything when the viewer loses focus or the tab is hidden", () => {
    surface.dispatchEvent(event("focusout", { relatedTarget: null }));
    doc.visibilityState = "hidden";
    doc.dispatchEvent(event("visibilitychange"));
    expect(sent).toEqual([{ type: "input/release-all" }, { type: "input/release-all" }]);
  });

  it("suppresses the context menu", () => {
    const menu = event("contextmenu");
    surface.dispatchEvent(menu);
    expect(menu.defaultPrevented).toBe(true);
  });

  it("sends only messages the agent's parser accepts", () => {
    surface.dispatchEvent(event("pointerdown", { clientX: 400, clientY: 400, button: 0, pointerId: 1 }));
    surface.dispatchEvent(event("pointermove", { clientX: 5000, clientY: -5000 }));
    runFrame();
    surface.dispatchEvent(event("wheel", { deltaX: 1e9, deltaY: -1e9, deltaMode: 0 }));
    surface.dispatchEvent(key("keydown", "Unidentified", "x".repeat(100)));
    surface.dispatchEvent(event("focusout", { relatedTarget: null }));
    expect(sent.length).toBeGreaterThan(4);
    for (const m of sent) expect(parseInputMessage(JSON.stringify(m))).toMatchObject({ ok: true });
  });

  it("listens to nothing after detach", () => {
    capture.detach();
    surface.dispatchEvent(key("keydown", "KeyA", "a"));
    surface.dispatchEvent(event("focusout", { relatedTarget: null }));
    expect(sent).toEqual([]);
  });
});
