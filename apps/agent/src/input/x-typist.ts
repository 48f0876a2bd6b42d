/**
 * Types characters on the desktop by the key its own layout has for them, through XTest on an X
 * connection of the agent's own (nut-js can only press the keys of its fixed list).
 *
 * A character is a tap: its key goes down and up at once, with the Shift and AltGr it needs and
 * without the Control, Alt or Shift the agent holds that would change it, which are put back right
 * after. A key held by XTest repeats in the X server by itself, with whatever modifiers are down
 * then (a held "$" would repeat as "4"); a tap cannot be held, and the viewer's own key repeat
 * sends the character again. The server's modifier state and keyboard group are read for each
 * character, so Caps Lock and a layout switch are accounted for.
 */
import { queryExtension, sync, u32s, XConnection, type XError } from "../capture/x11/x-connection.ts";
import {
  activeGroup,
  type CharacterKey,
  KeyboardLayout,
  keysymForCharacter,
  MODIFIER_MASK,
  modifiersFor,
} from "./characters.ts";
import { isMappingNotify, keysymsOf, readKeyboardMapping } from "./keyboard-mapping-changes.ts";

/** Core protocol opcodes (X11 protocol, "Encoding"). */
const OP_QUERY_POINTER = 38;
const OP_GET_MODIFIER_MAPPING = 119;
const OP_CHANGE_KEYBOARD_MAPPING = 100;
/** XTest's FakeInput (minor opcode 2) and the core event types it fakes. */
const XTEST_FAKE_INPUT = 2;
const KEY_PRESS = 2;
const KEY_RELEASE = 3;

export class XTypist {
  private readonly x: XConnection;
  /** XTest's major opcode on this server. */
  private readonly xtest: number;
  private layout: KeyboardLayout;
  /** The re-read of the layout after the last MappingNotify; a character waits for it. */
  private reading: Promise<void> = Promise.resolve();
  /** The connection broke: nothing can be typed any more (keys go by their position). */
  private lost = false;
  /** Characters the layout lacks, bound to spare keycodes (keysym → keycode), oldest first. */
  private readonly borrowed = new Map<number, number>();

  private constructor(x: XConnection, xtest: number, layout: KeyboardLayout) {
    this.x = x;
    this.xtest = xtest;
    this.layout = layout;
    // Every client is sent MappingNotify when the layout or the modifiers change.
    x.onEvent = (event) => {
      if (!isMappingNotify(event)) return;
      this.reading = this.reading
        .then(async () => {
          this.layout = await readLayout(x);
        })
        .catch(() => {});
    };
  }

  /** Connects to `display`; rejects when it cannot be reached or has no XTest. */
  static async open(
    display: string,
    xauthority: string | undefined,
    onError: (error: XError) => void,
  ): Promise<XTypist> {
    const x = await XConnection.connect(display, xauthority);
    try {
      const xtest = await queryExtension(x, "XTEST");
      if (!xtest) throw new Error(`the X server of ${display} has no XTEST extension`);
      const typist = new XTypist(x, xtest.major, await readLayout(x));
      x.onError = onError;
      x.onClose = () => (typist.lost = true);
      return typist;
    } catch (error) {
      x.close();
      throw error;
    }
  }

  /** True when `character` (one character) has a key in the layout or can borrow a spare one. */
  canType(character: string): boolean {
    const keysym = keysymForCharacter(character);
    if (this.lost || keysym === undefined) return false;
    return this.layout.locate(keysym) !== undefined || this.layout.spareKeycodes.length > 0;
  }

  /**
   * Taps the key that types `character` in the layout's active group, with the modifiers it needs.
   * `held`: the keysyms of the modifier keys the agent holds (through nut-js), which it may lift
   * for the tap; a key held on a physical keyboard cannot be lifted through XTest. Resolves false,
   * having pressed nothing, when the layout cannot type `character` now.
   */
  async type(character: string, held: readonly number[]): Promise<boolean> {
    const keysym = keysymForCharacter(character);
    if (keysym === undefined) return false;
    await this.reading;
    const layout = this.layout;
    const state = await this.modifierState();
    const place = layout.locate(keysym, activeGroup(state)) ?? (await this.borrow(keysym));
    if (!place) return false;
    const { press, lift } = modifiersFor(place, state, layout.level3Mask);
    const liftable = new Set(layout.modifierKeys(lift));
    const lifted = held.flatMap((sym) => {
      const keycode = layout.keycodeOf(sym);
      return keycode !== undefined && liftable.has(keycode) ? [keycode] : [];
    });
    const pressed = [
      ...(press & MODIFIER_MASK.shift ? [layout.shiftKeycode] : []),
      ...(press & layout.level3Mask ? [layout.level3Keycode] : []),
    ];
    if (pressed.includes(undefined)) return false;
    const modifiers = pressed as number[];
    for (const keycode of lifted) this.fake(KEY_RELEASE, keycode);
    for (const keycode of modifiers) this.fake(KEY_PRESS, keycode);
    this.fake(KEY_PRESS, place.keycode);
    this.fake(KEY_RELEASE, place.keycode);
    for (const keycode of modifiers.reverse()) this.fake(KEY_RELEASE, keycode);
    for (const keycode of lifted) this.fake(KEY_PRESS, keycode);
    // Done once the server has handled them, so the next event (maybe nut-js's) comes after.
    await sync(this.x);
    return true;
  }

  /** The keycodes bound to characters the layout lacks, now. */
  borrowedKeycodes(): Iterable<number> {
    return this.borrowed.values();
  }

  /** Gives the borrowed keycodes back (nothing made them before) and closes the connection. */
  close(): void {
    for (const keycode of this.borrowed.values()) this.bind(keycode, 0);
    this.x.close();
  }

  /**
   * Where a character the layout has no key for can be typed: a spare keycode bound to it, both
   * levels, as xdotool does. The binding stays (a client reads the new mapping only when it
   * handles the MappingNotify, maybe after the tap) until the spare is needed for another
   * character, or the agent stops; the desktop's own keys are not touched.
   */
  private async borrow(keysym: number): Promise<CharacterKey | undefined> {
    const layout = this.layout;
    const inUse = new Set(this.borrowed.values());
    let keycode = layout.spareKeycodes.find((spare) => !inUse.has(spare));
    if (keycode === undefined) {
      // Every spare is lent: the one lent longest ago is taken back.
      const [oldest] = this.borrowed;
      if (!oldest) return undefined;
      this.borrowed.delete(oldest[0]);
      keycode = oldest[1];
    }
    this.borrowed.set(keysym, keycode);
    this.bind(keycode, keysym);
    // The tap must come after the server has the new mapping (and this typist its own notice).
    await sync(this.x);
    return { keycode, shift: false, level3: false, alphabetic: false };
  }

  /** ChangeKeyboardMapping: `keycode` makes `keysym` at both levels (0: nothing). */
  private bind(keycode: number, keysym: number): void {
    const body = Buffer.alloc(4 + 8);
    body.writeUInt8(keycode, 0);
    body.writeUInt8(2, 1);
    body.writeUInt32LE(keysym, 4);
    body.writeUInt32LE(keysym, 8);
    this.x.send(OP_CHANGE_KEYBOARD_MAPPING, 1, body);
  }

  private fake(type: number, keycode: number): void {
    // type, detail, 2 unused, time (0: now), root (0: none), 8 unused, x, y, 7 unused, device.
    const body = Buffer.alloc(32);
    body.writeUInt8(type, 0);
    body.writeUInt8(keycode, 1);
    this.x.send(this.xtest, XTEST_FAKE_INPUT, body);
  }

  /** The modifiers and keyboard group the server has on now (QueryPointer's mask). */
  private async modifierState(): Promise<number> {
    const reply = await this.x.request(OP_QUERY_POINTER, 0, u32s(this.x.setup.root));
    return reply.readUInt16LE(24);
  }
}

/** The layout now: every keycode's keysyms and the modifiers' keycodes. */
async function readLayout(x: XConnection): Promise<KeyboardLayout> {
  const mapping = await readKeyboardMapping(x);
  const modifiers = await x.request(OP_GET_MODIFIER_MAPPING, 0);
  const body = keysymsOf(mapping);
  const keysyms = new Uint32Array(body.length / 4);
  for (let i = 0; i < keysyms.length; i++) keysyms[i] = body.readUInt32LE(i * 4);
  return new KeyboardLayout(x.setup.minKeycode, mapping[1]!, keysyms, modifiers[1]!, modifiers.subarray(32));
}
