/**
 * Types characters on the desktop by the key its own layout has for them, through XTest on an X
 * connection of the agent's own (nut-js can only press the keys of its fixed list).
 *
 * A character's key is pressed with the Shift and AltGr it needs and without the Control and Alt
 * that would make it a shortcut, whatever the desktop has held at the time; what was held is put
 * back right after the press. The server's modifier state is read for each character, so Caps Lock
 * and keys held through nut-js are accounted for.
 */
import { queryExtension, sync, u32s, XConnection, type XError } from "../capture/x11/x-connection.ts";
import {
  isCasedLetter,
  KeyboardLayout,
  keysymForCharacter,
  modifiersFor,
  MODIFIER_MASK,
} from "./characters.ts";

/** Core protocol opcodes (X11 protocol, "Encoding"). */
const OP_QUERY_POINTER = 38;
const OP_QUERY_KEYMAP = 44;
const OP_GET_KEYBOARD_MAPPING = 101;
const OP_GET_MODIFIER_MAPPING = 119;
const MAPPING_NOTIFY = 34;
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

  private constructor(x: XConnection, xtest: number, layout: KeyboardLayout) {
    this.x = x;
    this.xtest = xtest;
    this.layout = layout;
    // Every client is sent MappingNotify when the layout or the modifiers change.
    x.onEvent = (event) => {
      if ((event[0]! & 0x7f) !== MAPPING_NOTIFY) return;
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
      return typist;
    } catch (error) {
      x.close();
      throw error;
    }
  }

  /** True when the layout has a key for `character` (one character), with Shift or AltGr at most. */
  canType(character: string): boolean {
    const keysym = keysymForCharacter(character);
    return keysym !== undefined && this.layout.locate(keysym) !== undefined;
  }

  /**
   * Presses the key that types `character`, with the modifiers it needs; resolves to the keycode
   * held down (release it with `up`), or undefined when `character` is not one character the
   * layout can type.
   */
  async down(character: string): Promise<number | undefined> {
    const keysym = keysymForCharacter(character);
    if (keysym === undefined) return undefined;
    await this.reading;
    const layout = this.layout;
    const place = layout.locate(keysym);
    if (!place) return undefined;
    const state = await this.modifierState();
    const { press, lift } = modifiersFor(place, state, isCasedLetter(character), layout.level3Mask);
    const held = lift ? await this.keysDown() : new Set<number>();
    const lifted = layout.modifierKeys(lift).filter((keycode) => held.has(keycode));
    const pressed = [
      ...(press & MODIFIER_MASK.shift ? [layout.shiftKeycode!] : []),
      ...(press & layout.level3Mask ? [layout.level3Keycode!] : []),
    ];
    for (const keycode of lifted) this.fake(KEY_RELEASE, keycode);
    for (const keycode of pressed) this.fake(KEY_PRESS, keycode);
    this.fake(KEY_PRESS, place.keycode);
    for (const keycode of pressed.reverse()) this.fake(KEY_RELEASE, keycode);
    for (const keycode of lifted) this.fake(KEY_PRESS, keycode);
    // Done once the server has handled them, so the next event (maybe nut-js's) comes after.
    await sync(this.x);
    return place.keycode;
  }

  /** Releases a key `down` pressed. */
  async up(keycode: number): Promise<void> {
    this.fake(KEY_RELEASE, keycode);
    await sync(this.x);
  }

  close(): void {
    this.x.close();
  }

  private fake(type: number, keycode: number): void {
    // type, detail, 2 unused, time (0: now), root (0: none), 8 unused, x, y, 7 unused, device.
    const body = Buffer.alloc(32);
    body.writeUInt8(type, 0);
    body.writeUInt8(keycode, 1);
    this.x.send(this.xtest, XTEST_FAKE_INPUT, body);
  }

  /** The modifiers the server has on now (QueryPointer's mask). */
  private async modifierState(): Promise<number> {
    const reply = await this.x.request(OP_QUERY_POINTER, 0, u32s(this.x.setup.root));
    return reply.readUInt16LE(24) & 0xff;
  }

  /** The keycodes held down now (QueryKeymap's bit vector). */
  private async keysDown(): Promise<Set<number>> {
    const reply = await this.x.request(OP_QUERY_KEYMAP, 0);
    const down = new Set<number>();
    for (let keycode = 8; keycode < 256; keycode++) {
      if (reply[8 + (keycode >> 3)]! & (1 << (keycode & 7))) down.add(keycode);
    }
    return down;
  }
}

/** The layout now: every keycode's keysyms and the modifiers' keycodes. */
async function readLayout(x: XConnection): Promise<KeyboardLayout> {
  const { minKeycode, maxKeycode } = x.setup;
  const mapping = await x.request(
    OP_GET_KEYBOARD_MAPPING,
    0,
    Buffer.from([minKeycode, maxKeycode - minKeycode + 1, 0, 0]),
  );
  const modifiers = await x.request(OP_GET_MODIFIER_MAPPING, 0);
  const keysyms = new Uint32Array((mapping.length - 32) / 4);
  for (let i = 0; i < keysyms.length; i++) keysyms[i] = mapping.readUInt32LE(32 + i * 4);
  return new KeyboardLayout(minKeycode, mapping[1]!, keysyms, modifiers[1]!, modifiers.subarray(32));
}
