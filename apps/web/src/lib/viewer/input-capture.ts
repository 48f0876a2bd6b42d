/**
 * Turns the technician's pointer, wheel and keyboard on the viewer's surface into `input` channel
 * messages: positions normalized to the displayed picture, pointer moves coalesced to one per
 * animation frame (latest wins), wheel deltas as whole notches, keys with their modifiers, and
 * everything released when the viewer loses focus or the tab is hidden.
 */
import type { InputMessage } from "@rd/protocol";
import { normalizedPoint, WheelAccumulator, wheelNotches } from "./geometry.ts";

/** The DOM the capture needs; an HTMLElement, an HTMLVideoElement and the document fit. */
export interface CaptureSurface extends EventTarget {
  focus(options?: FocusOptions): void;
  contains?(other: Node | null): boolean;
  setPointerCapture?(pointerId: number): void;
  releasePointerCapture?(pointerId: number): void;
}
export interface CaptureVideo {
  readonly videoWidth: number;
  readonly videoHeight: number;
  getBoundingClientRect(): DOMRectReadOnly | { left: number; top: number; width: number; height: number };
}
export interface CaptureDocument extends EventTarget {
  readonly visibilityState: DocumentVisibilityState;
  readonly activeElement?: unknown;
}

export interface InputCaptureOptions {
  /** The focusable element that receives the events (the viewer's stage). */
  surface: CaptureSurface;
  /** The video whose picture positions are measured on. */
  video: CaptureVideo;
  document: CaptureDocument;
  send(message: InputMessage): void;
  /** False in view-only mode or when there is no connection: nothing is sent or prevented. */
  enabled(): boolean;
  /** Called first for every keydown; returning true consumes it (a viewer shortcut), unsent. */
  onShortcut?(event: KeyboardEvent): boolean;
  /**
   * The field inside the surface that on-screen keyboards and input methods type into
   * (text-entry.ts). While it has the focus, a tap leaves the focus there (moving it would close
   * the on-screen keyboard), a key with no code that made a character is left to the field's text
   * (iOS's on-screen keys: sent here as well, it would come twice), and `sentKey` hears of every
   * key sent from it, after which the field's text is no longer what the remote has.
   */
  textField?: { element: EventTarget; sentKey(): void };
  requestFrame?: (callback: () => void) => number;
  cancelFrame?: (handle: number) => void;
}

export interface InputCapture {
  /** Sends input/release-all now (also done on blur and when the tab is hidden). */
  releaseAll(): void;
  detach(): void;
}

/** The browser's MouseEvent.button values the protocol carries; back/forward (3, 4) are not sent. */
const isProtocolButton = (button: number): button is 0 | 1 | 2 =>
  button === 0 || button === 1 || button === 2;

/** The protocol's bound on `key`; a longer one (an IME string) is cut rather than refused. */
const MAX_KEY_CHARS = 32;

export function attachInputCapture(options: InputCaptureOptions): InputCapture {
  const { surface, video, document: doc, send, enabled, onShortcut, textField } = options;
  const requestFrame = options.requestFrame ?? ((cb: () => void) => requestAnimationFrame(cb));
  const cancelFrame = options.cancelFrame ?? ((handle: number) => cancelAnimationFrame(handle));
  const wheel = new WheelAccumulator();
  /** Buttons this viewer pressed on the remote and has not released. */
  const buttonsDown = new Set<number>();
  /** Keys this viewer pressed on the remote and has not released. */
  const keysDown = new Set<string>();
  /** Keydowns taken as viewer shortcuts: their keyups are not the remote's business either. */
  const consumedKeys = new Set<string>();
  let pendingMove: { x: number; y: number } | null = null;
  let frame: number | null = null;
  // The picture's last known size. Chromium reports 0 × 0 from the moment the element's source
  // changes (tiles to video and back, RemoteViewer's show) until the new one's first frame, ~20 ms
  // idle and longer under load: input in that gap measures on this instead of being lost (CI saw a
  // pointer move vanish there).
  let size = { width: 0, height: 0 };

  const point = (event: MouseEvent) => {
    if (video.videoWidth > 0 && video.videoHeight > 0)
      size = { width: video.videoWidth, height: video.videoHeight };
    return normalizedPoint(
      event.clientX,
      event.clientY,
      video.getBoundingClientRect(),
      size.width,
      size.height,
    );
  };

  const cancelMove = () => {
    if (frame !== null) cancelFrame(frame);
    frame = null;
    pendingMove = null;
  };

  const flushMove = () => {
    frame = null;
    if (pendingMove && enabled()) send({ type: "input/pointer", action: "move", ...pendingMove });
    pendingMove = null;
  };

  const onPointerMove = (event: Event) => {
    if (!enabled()) return;
    const p = point(event as PointerEvent);
    // Outside the picture only a drag continues (clamped to the edge); hovering the letterbox is nothing.
    if (!p || (!p.inside && buttonsDown.size === 0)) return;
    pendingMove = { x: p.x, y: p.y };
    frame ??= requestFrame(flushMove);
  };

  const onPointerDown = (event: Event) => {
    const e = event as PointerEvent;
    // Click to focus, in view-only mode too, so shortcuts and the focus ring work. The text
    // field keeps it: not even the browser's own focusing on a press may move it.
    if (textField && doc.activeElement === textField.element) e.preventDefault();
    else surface.focus({ preventScroll: true });
    if (!enabled() || !isProtocolButton(e.button)) return;
    const p = point(e);
    if (!p?.inside) return;
    // Text selection, middle-click autoscroll and drag-and-drop of the video are local effects.
    e.preventDefault();
    cancelMove();
    surface.setPointerCapture?.(e.pointerId);
    buttonsDown.add(e.button);
    send({ type: "input/pointer", action: "down", x: p.x, y: p.y, button: e.button });
  };

  const onPointerUp = (event: Event) => {
    const e = event as PointerEvent;
    if (!buttonsDown.has(e.button) || !isProtocolButton(e.button)) return;
    buttonsDown.delete(e.button);
    if (buttonsDown.size === 0) surface.releasePointerCapture?.(e.pointerId);
    if (!enabled()) return;
    e.preventDefault();
    cancelMove();
    const p = point(e);
    if (!p) return;
    send({ type: "input/pointer", action: "up", x: p.x, y: p.y, button: e.button });
  };

  const onWheel = (event: Event) => {
    if (!enabled()) return;
    const e = event as WheelEvent;
    // Scrolling (and ctrl+wheel zoom) belongs to the remote page while the viewer is in control.
    e.preventDefault();
    const notches = wheelNotches(e.deltaX, e.deltaY, e.deltaMode);
    const due = wheel.add(notches.dx, notches.dy);
    if (due) send({ type: "input/wheel", ...due });
  };

  const onKeyDown = (event: Event) => {
    const e = event as KeyboardEvent;
    if (onShortcut?.(e)) {
      e.preventDefault();
      consumedKeys.add(e.code);
      return;
    }
    if (!enabled() || takenByInputMethod(e)) return;
    const fromField = !!textField && e.target === textField.element;
    const code = fromField ? namedCode(e) : codeOf(e);
    if (!code) return;
    // Every key goes to the remote, Tab and browser shortcuts included (the toolbar and
    // Ctrl+Alt+Shift shortcuts are the way out).
    e.preventDefault();
    keysDown.add(code);
    send(keyMessage("down", e, code));
    if (fromField) textField.sentKey();
  };

  const onKeyUp = (event: Event) => {
    const e = event as KeyboardEvent;
    if (consumedKeys.delete(e.code)) {
      e.preventDefault();
      return;
    }
    // A code-less key-up may not say which character it was: it goes up if one went down.
    const code = namedCode(e) || (keysDown.has(UNIDENTIFIED) ? UNIDENTIFIED : "");
    if (!enabled() || takenByInputMethod(e) || !code) return;
    e.preventDefault();
    keysDown.delete(code);
    send(keyMessage("up", e, code));
  };

  const onContextMenu = (event: Event) => event.preventDefault();

  const releaseAll = () => {
    cancelMove();
    wheel.reset();
    buttonsDown.clear();
    keysDown.clear();
    consumedKeys.clear();
    if (enabled()) send({ type: "input/release-all" });
  };

  // Released when the focus leaves the surface and the text field inside it (`blur` would not be
  // heard from the field).
  const onFocusOut = (event: Event) => {
    const next = (event as FocusEvent).relatedTarget as Node | null;
    if (next && surface.contains?.(next)) return;
    releaseAll();
  };
  const onVisibility = () => {
    if (doc.visibilityState === "hidden") releaseAll();
  };

  const listeners: [EventTarget, string, (event: Event) => void, AddEventListenerOptions?][] = [
    [surface, "pointermove", onPointerMove],
    [surface, "pointerdown", onPointerDown],
    [surface, "pointerup", onPointerUp],
    // The browser took the pointer (a touch turned into a scroll): whatever it held goes up.
    [surface, "pointercancel", () => releaseAll()],
    // Not passive: preventDefault keeps the page (or the 1:1 scroller) from scrolling too.
    [surface, "wheel", onWheel, { passive: false }],
    [surface, "keydown", onKeyDown],
    [surface, "keyup", onKeyUp],
    [surface, "contextmenu", onContextMenu],
    [surface, "focusout", onFocusOut],
    [doc, "visibilitychange", onVisibility],
  ];
  for (const [target, type, listener, opts] of listeners) target.addEventListener(type, listener, opts);

  return {
    releaseAll,
    detach() {
      cancelMove();
      for (const [target, type, listener, opts] of listeners)
        target.removeEventListener(type, listener, opts);
    },
  };
}

/** The spec's code for a key it cannot name. */
const UNIDENTIFIED = "Unidentified";

/**
 * Keys an on-screen keyboard may send without a code, whose code is their name: Android's sends
 * Backspace and Enter so, which typed nothing before.
 */
const NAMED_KEYS = new Set([
  "Backspace",
  "Enter",
  "Tab",
  "Escape",
  "Delete",
  "ArrowLeft",
  "ArrowRight",
  "ArrowUp",
  "ArrowDown",
  "Home",
  "End",
  "PageUp",
  "PageDown",
]);

/**
 * An input method's key (IME): composing, or the key it took ("Process", keyCode 229). Its text
 * is the input method's; the key behind it means nothing remotely.
 */
function takenByInputMethod(e: KeyboardEvent): boolean {
  return e.isComposing || e.key === "Process" || e.keyCode === 229;
}

/** The key's code, or its name for a code-less named key; "" for anything else. */
function namedCode(e: KeyboardEvent): string {
  return e.code || (NAMED_KEYS.has(e.key) ? e.key : "");
}

/**
 * The key's code, or "Unidentified" for a key with no code that made one character: on-screen
 * keyboards send those, and the agent types the character. Empty for anything else without a
 * code, which is not sent.
 */
function codeOf(e: KeyboardEvent): string {
  return namedCode(e) || ([...e.key].length === 1 ? UNIDENTIFIED : "");
}

/**
 * True for a character AltGr made: AltGraph on and a character that is not an ASCII letter or
 * digit. Windows reports AltGr as Control+Alt held, and the agent would take its "@" for a
 * shortcut; a real Control+Alt shortcut (Ctrl+Alt+T) is on a letter or digit.
 */
function madeByAltGraph(e: KeyboardEvent): boolean {
  return (e.getModifierState?.("AltGraph") ?? false) && [...e.key].length === 1 && !/^[a-z0-9]$/i.test(e.key);
}

function keyMessage(action: "down" | "up", e: KeyboardEvent, code = codeOf(e)): InputMessage {
  const altGraph = madeByAltGraph(e);
  return {
    type: "input/key",
    action,
    code: code.slice(0, MAX_KEY_CHARS),
    key: e.key.slice(0, MAX_KEY_CHARS),
    modifiers: {
      ctrl: e.ctrlKey && !altGraph,
      shift: e.shiftKey,
      alt: e.altKey && !altGraph,
      meta: e.metaKey,
    },
  };
}
