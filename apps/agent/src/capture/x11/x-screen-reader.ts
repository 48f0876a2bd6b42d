/**
 * The X requests screen capture makes, on top of x-connection.ts: the root window's pixels
 * (GetImage), its size (GetGeometry), change notifications (the DAMAGE extension) and the pointer's
 * image and position (XFIXES, since the server leaves its cursor out of GetImage), with word of
 * when the pointer moved (XInput 2 motion and raw motion) or changed its image (XFIXES), so that
 * a still pointer need not be polled.
 */
import { type Extension, queryExtension, rootSize, u32s, XConnection } from "./x-connection.ts";

/** Core request opcodes (X11 protocol, "Encoding::Requests"). */
const OP_GET_IMAGE = 73;
const Z_PIXMAP = 2;
/** DAMAGE 1.1 minor opcodes and report level. */
const DAMAGE_QUERY_VERSION = 0;
const DAMAGE_CREATE = 1;
const DAMAGE_DESTROY = 2;
const DAMAGE_REPORT_RAW_RECTANGLES = 0;
/** XFIXES minor opcodes, the cursor-change event and the mask that selects it. */
const XFIXES_QUERY_VERSION = 0;
const XFIXES_SELECT_CURSOR_INPUT = 3;
const XFIXES_GET_CURSOR_IMAGE = 4;
const XFIXES_CURSOR_NOTIFY = 1;
const XFIXES_DISPLAY_CURSOR_NOTIFY_MASK = 1;
/**
 * XInput 2 minor opcodes, its motion events (generic events, 35) and the master devices. Motion
 * selected on the root window comes from whatever window the pointer is over, warps included (the
 * agent's own input moves the pointer with XWarpPointer, as xdotool does), but not while another
 * client grabs the pointer; raw motion comes from the devices whatever grabs, but not for warps.
 * Between them every move is heard but a warp during a grab (see damage-capture.ts).
 */
const XI_SELECT_EVENTS = 46;
const XI_QUERY_VERSION = 47;
const XI_MOTION = 6;
const XI_RAW_MOTION = 17;
const XI_ALL_MASTER_DEVICES = 1;
const GENERIC_EVENT = 35;

export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** How raw pixels are laid out in memory, named as ffmpeg's `-pix_fmt` names them. */
export type RawPixelFormat = "bgr0" | "rgb0";

export interface CursorImage {
  x: number;
  y: number;
  width: number;
  height: number;
  xhot: number;
  yhot: number;
  serial: number;
  /** Premultiplied ARGB, one 32-bit word per pixel. */
  pixels: Uint32Array;
}

export class XScreenReader {
  readonly x: XConnection;
  readonly pixelFormat: RawPixelFormat;
  private readonly damage: Extension;
  private readonly xfixes?: Extension;
  private readonly xinput?: Extension;
  private damageId?: number;
  /** Called with each changed rectangle while watching. */
  onDamage: (rect: Rect) => void = () => {};
  /** Called when the pointer moved or changed its image, while watchPointer() holds. */
  onPointer: () => void = () => {};

  private constructor(x: XConnection, damage: Extension, xfixes?: Extension, xinput?: Extension) {
    this.x = x;
    this.damage = damage;
    this.xfixes = xfixes;
    this.xinput = xinput;
    this.pixelFormat = pixelFormatOf(x);
    x.onEvent = (event) => {
      const type = event[0]! & 0x7f;
      if (type === damage.firstEvent) {
        // DamageNotify: the changed area is at bytes 16-23 (x, y, width, height).
        this.onDamage({
          x: event.readInt16LE(16),
          y: event.readInt16LE(18),
          width: event.readUInt16LE(20),
          height: event.readUInt16LE(22),
        });
      } else if (type === GENERIC_EVENT) {
        // Byte 1 names the extension, bytes 8-9 its event type.
        if (event[1] !== xinput?.major) return;
        const xiType = event.readUInt16LE(8);
        if (xiType === XI_MOTION || xiType === XI_RAW_MOTION) this.onPointer();
      } else if (xfixes && type === xfixes.firstEvent + XFIXES_CURSOR_NOTIFY) {
        this.onPointer();
      }
    };
  }

  /** Connects and checks the server can do this: DAMAGE, and a 32-bit true-colour screen. */
  static async open(display: string, xauthority?: string): Promise<XScreenReader> {
    const x = await XConnection.connect(display, xauthority);
    try {
      const damage = await queryExtension(x, "DAMAGE");
      if (!damage) throw new Error(`the X server on ${display} has no DAMAGE extension`);
      await x.request(damage.major, DAMAGE_QUERY_VERSION, u32s(1, 1));
      const xfixes = await queryExtension(x, "XFIXES");
      if (xfixes) await x.request(xfixes.major, XFIXES_QUERY_VERSION, u32s(4, 0));
      return new XScreenReader(x, damage, xfixes, await xinput2(x));
    } catch (error) {
      x.close();
      throw error;
    }
  }

  /** Starts reporting every change to the root window (one event per drawing operation). */
  watch(): void {
    if (this.damageId !== undefined) return;
    this.damageId = this.x.newId();
    const body = Buffer.alloc(12);
    body.writeUInt32LE(this.damageId, 0);
    body.writeUInt32LE(this.x.setup.root, 4);
    body.writeUInt8(DAMAGE_REPORT_RAW_RECTANGLES, 8);
    this.x.send(this.damage.major, DAMAGE_CREATE, body);
  }

  unwatch(): void {
    if (this.damageId === undefined) return;
    this.x.send(this.damage.major, DAMAGE_DESTROY, u32s(this.damageId));
    this.damageId = undefined;
  }

  /**
   * Starts calling onPointer when the pointer moves or changes its image; false when the server
   * cannot say (no XInput 2 or no XFIXES), and the pointer must be polled.
   */
  watchPointer(): boolean {
    if (!this.xinput || !this.xfixes) return false;
    this.selectPointerEvents(true);
    return true;
  }

  unwatchPointer(): void {
    if (this.xinput && this.xfixes) this.selectPointerEvents(false);
  }

  private selectPointerEvents(on: boolean) {
    const root = this.x.setup.root;
    // XISelectEvents: the window, one mask (for the master devices), one word of event bits.
    const select = Buffer.alloc(16);
    select.writeUInt32LE(root, 0);
    select.writeUInt16LE(1, 4);
    select.writeUInt16LE(XI_ALL_MASTER_DEVICES, 8);
    select.writeUInt16LE(1, 10);
    select.writeUInt32LE(on ? (1 << XI_MOTION) | (1 << XI_RAW_MOTION) : 0, 12);
    this.x.send(this.xinput!.major, XI_SELECT_EVENTS, select);
    const mask = on ? XFIXES_DISPLAY_CURSOR_NOTIFY_MASK : 0;
    this.x.send(this.xfixes!.major, XFIXES_SELECT_CURSOR_INPUT, u32s(root, mask));
  }

  async size(): Promise<{ width: number; height: number }> {
    return rootSize(this.x);
  }

  /**
   * Reads the pixels of `rect` of the root window and hands them to `paste` as rows of `width`
   * 4-byte pixels, valid only during the call.
   */
  image<T>(rect: Rect, paste: (pixels: Buffer) => T): Promise<T> {
    const body = Buffer.alloc(16);
    body.writeUInt32LE(this.x.setup.root, 0);
    body.writeInt16LE(rect.x, 4);
    body.writeInt16LE(rect.y, 6);
    body.writeUInt16LE(rect.width, 8);
    body.writeUInt16LE(rect.height, 10);
    body.writeUInt32LE(0xffffffff, 12);
    return this.x.requestInto(OP_GET_IMAGE, Z_PIXMAP, body, (reply) =>
      paste(reply.subarray(32, 32 + rect.width * rect.height * 4)),
    );
  }

  /** The pointer's image and position; undefined when the server has no XFIXES. */
  async cursor(): Promise<CursorImage | undefined> {
    if (!this.xfixes) return undefined;
    const reply = await this.x.request(this.xfixes.major, XFIXES_GET_CURSOR_IMAGE);
    const width = reply.readUInt16LE(12);
    const height = reply.readUInt16LE(14);
    const pixels = new Uint32Array(width * height);
    for (let i = 0; i < pixels.length; i++) pixels[i] = reply.readUInt32LE(32 + i * 4);
    return {
      x: reply.readInt16LE(8),
      y: reply.readInt16LE(10),
      width,
      height,
      xhot: reply.readUInt16LE(16),
      yhot: reply.readUInt16LE(18),
      serial: reply.readUInt32LE(20),
      pixels,
    };
  }

  close(): void {
    this.x.close();
  }
}

/** XInput 2 if the server has it: its events are selected only after the version is agreed. */
async function xinput2(x: XConnection): Promise<Extension | undefined> {
  const xinput = await queryExtension(x, "XInputExtension");
  if (!xinput) return undefined;
  // XIQueryVersion, asking for 2.2: the server answers with what it will speak (bytes 8-9, major).
  const body = Buffer.alloc(4);
  body.writeUInt16LE(2, 0);
  body.writeUInt16LE(2, 2);
  const reply = await x.request(xinput.major, XI_QUERY_VERSION, body).catch(() => undefined);
  return reply && reply.readUInt16LE(8) >= 2 ? xinput : undefined;
}

/** The layouts ffmpeg can take as they come: 32 bits per pixel, 8 bits per colour, LSB first. */
function pixelFormatOf(x: XConnection): RawPixelFormat {
  const { bitsPerPixel, imageByteOrder, visual, rootDepth } = x.setup;
  if (bitsPerPixel === 32 && imageByteOrder === 0 && visual.greenMask === 0xff00) {
    if (visual.redMask === 0xff0000 && visual.blueMask === 0xff) return "bgr0";
    if (visual.redMask === 0xff && visual.blueMask === 0xff0000) return "rgb0";
  }
  throw new Error(
    `the screen's pixel format (depth ${rootDepth}, ${bitsPerPixel} bits per pixel) is not one the capture reads`,
  );
}
