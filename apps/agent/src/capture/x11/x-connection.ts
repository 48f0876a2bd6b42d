/**
 * A small X11 protocol client over the display's socket, written from the X Window System Protocol
 * specification (version 11): the connection setup, requests with or without a reply, errors and
 * events. Just what screen capture needs (see damage-capture.ts); everything little-endian.
 *
 * Why not Xlib through a native addon, or ffmpeg's own x11grab? The agent is TypeScript only, and
 * x11grab can only poll: it grabs and compares the whole screen at the frame rate even when nothing
 * changed. Speaking the protocol lets capture wait for the DAMAGE extension to say what changed.
 */
import { connect, type Socket } from "node:net";
import { readCookie } from "./xauthority.ts";

export interface XVisual {
  redMask: number;
  greenMask: number;
  blueMask: number;
}

export interface XSetup {
  root: number;
  width: number;
  height: number;
  rootDepth: number;
  /** Bits per pixel of the root depth's pixmap format (ZPixmap images come in it). */
  bitsPerPixel: number;
  /** 0: least significant byte first. */
  imageByteOrder: number;
  visual: XVisual;
  resourceIdBase: number;
  resourceIdMask: number;
  /** The keycodes the server uses, for GetKeyboardMapping. */
  minKeycode: number;
  maxKeycode: number;
}

/** An X error reply, named the way the protocol does (BadMatch, BadWindow...). */
export class XError extends Error {
  readonly code: number;
  readonly majorOpcode: number;
  readonly minorOpcode: number;
  constructor(code: number, majorOpcode: number, minorOpcode: number) {
    super(`X error ${ERROR_NAMES[code] ?? code} (request ${majorOpcode}.${minorOpcode})`);
    this.code = code;
    this.majorOpcode = majorOpcode;
    this.minorOpcode = minorOpcode;
  }
}

const ERROR_NAMES: Record<number, string> = {
  1: "BadRequest",
  2: "BadValue",
  3: "BadWindow",
  8: "BadMatch",
  9: "BadDrawable",
  11: "BadAlloc",
  14: "BadIDChoice",
  16: "BadLength",
  17: "BadImplementation",
};

/** Where a display's server listens: ":1" and ":1.0" are the local socket of display 1. */
export function displaySocket(display: string): {
  path?: string;
  host?: string;
  port?: number;
  number: string;
} {
  const match = /^([^:]*):(\d+)(?:\.\d+)?$/.exec(display);
  if (!match) throw new Error(`"${display}" is not an X display name (expected something like ":0")`);
  const [, host, number] = match as unknown as [string, string, string];
  if (host && host !== "unix") return { host, port: 6000 + Number(number), number };
  return { path: `/tmp/.X11-unix/X${number}`, number };
}

interface Pending {
  sequence: number;
  /** Called with the reply, which is only valid during the call (see requestInto). */
  resolve(reply: Buffer): void;
  reject(error: Error): void;
}

const pad4 = (n: number) => (4 - (n % 4)) % 4;

export class XConnection {
  readonly setup: XSetup;
  private readonly socket: Socket;
  private readonly pending: Pending[] = [];
  private chunks: Buffer[] = [];
  private available = 0;
  private sequence = 0;
  private scratch = Buffer.alloc(0);
  /** The length of the message being received, once its header is in; 0 between messages. */
  private expected = 0;
  private nextId = 0;
  private closedWith?: Error;
  /** Events (32-byte blocks) as they arrive; set by the one user of the connection. */
  onEvent: (event: Buffer) => void = () => {};
  /** An error for a request that has no reply (nothing else would hear of it). */
  onError: (error: XError) => void = () => {};
  onClose: (error: Error) => void = () => {};

  private constructor(socket: Socket, setup: XSetup, leftover: Buffer) {
    this.socket = socket;
    this.setup = setup;
    if (leftover.length) this.received(leftover);
    socket.on("data", (chunk: Buffer) => this.received(chunk));
    socket.on("error", (error) => this.fail(error));
    socket.on("close", () => this.fail(new Error("the X server closed the connection")));
  }

  /** Connects to `display` with the cookie from `xauthority` (the file libX11 would read). */
  static async connect(display: string, xauthority?: string): Promise<XConnection> {
    const where = displaySocket(display);
    const cookie = await readCookie(xauthority, where.number);
    const socket = await openSocket(where);
    try {
      socket.write(setupRequest(cookie));
      const { setup, leftover } = await readSetup(socket, display);
      return new XConnection(socket, setup, leftover);
    } catch (error) {
      socket.destroy();
      throw error;
    }
  }

  /** A fresh resource id (for a Damage object, say). */
  newId(): number {
    const { resourceIdBase, resourceIdMask } = this.setup;
    const step = resourceIdMask & -resourceIdMask;
    const id = resourceIdBase | ((this.nextId++ * step) & resourceIdMask);
    return id >>> 0;
  }

  /** Sends a request with no reply. `body` is everything after the 4-byte header. */
  send(opcode: number, data: number, body: Buffer = Buffer.alloc(0)): void {
    if (this.closedWith) throw this.closedWith;
    const header = Buffer.alloc(4);
    header.writeUInt8(opcode, 0);
    header.writeUInt8(data, 1);
    header.writeUInt16LE((4 + body.length) / 4, 2);
    this.sequence = (this.sequence + 1) & 0xffff;
    this.socket.write(body.length ? Buffer.concat([header, body]) : header);
  }

  /** Sends a request and resolves with its whole reply (header included). */
  request(opcode: number, data: number, body?: Buffer): Promise<Buffer> {
    return this.requestInto(opcode, data, body, (reply) => Buffer.from(reply));
  }

  /**
   * Sends a request and hands its reply to `consume` the moment it is read, as a view of a buffer
   * that is reused for the next large reply: `consume` copies out what it keeps. For images, this
   * spares allocating (and collecting) megabytes per frame.
   */
  requestInto<T>(
    opcode: number,
    data: number,
    body: Buffer | undefined,
    consume: (reply: Buffer) => T,
  ): Promise<T> {
    if (this.closedWith) return Promise.reject(this.closedWith);
    this.send(opcode, data, body);
    const sequence = this.sequence;
    return new Promise((resolve, reject) =>
      this.pending.push({
        sequence,
        resolve: (reply) => {
          try {
            resolve(consume(reply));
          } catch (error) {
            reject(error as Error);
          }
        },
        reject,
      }),
    );
  }

  close(): void {
    this.socket.destroy();
  }

  private received(chunk: Buffer) {
    this.chunks.push(chunk);
    this.available += chunk.length;
    for (;;) {
      if (this.available < 32) return;
      // A large reply arrives in many chunks: its length is read once, from its first.
      if (this.expected === 0) {
        const head = this.peek(32);
        const kind = head[0]! & 0x7f;
        // Replies and generic events (35) carry a length; errors and other events are 32 bytes.
        this.expected = kind === 1 || kind === 35 ? 32 + head.readUInt32LE(4) * 4 : 32;
      }
      if (this.available < this.expected) return;
      const message = this.take(this.expected);
      this.expected = 0;
      this.dispatch(message);
    }
  }

  private dispatch(message: Buffer) {
    const kind = message[0]! & 0x7f;
    if (kind > 1) return this.onEvent(message);
    const sequence = message.readUInt16LE(2);
    // Replies come in request order; requests without a reply are skipped by the sequence number.
    while (this.pending.length && this.pending[0]!.sequence !== sequence) {
      const behind = (sequence - this.pending[0]!.sequence) & 0xffff;
      if (behind === 0 || behind > 0x8000) break;
      this.pending.shift()!.reject(new Error("the X server sent no reply"));
    }
    const waiting = this.pending[0]?.sequence === sequence ? this.pending.shift() : undefined;
    if (kind === 1) return waiting?.resolve(message);
    const error = new XError(message[1]!, message[10]!, message.readUInt16LE(8));
    if (waiting) waiting.reject(error);
    else this.onError(error);
  }

  /** The first `length` bytes, copied together only when they span chunks. */
  private peek(length: number): Buffer {
    const first = this.chunks[0]!;
    if (first.length >= length) return first.subarray(0, length);
    const head = Buffer.allocUnsafe(length);
    let copied = 0;
    for (const chunk of this.chunks) {
      copied += chunk.copy(head, copied, 0, Math.min(chunk.length, length - copied));
      if (copied === length) break;
    }
    return head;
  }

  private take(length: number): Buffer {
    const first = this.chunks[0]!;
    let out: Buffer;
    if (first.length >= length) {
      out = first.subarray(0, length);
      if (first.length === length) this.chunks.shift();
      else this.chunks[0] = first.subarray(length);
    } else {
      // A large reply (an image) spans many chunks: joined once, when all of it is here, into a
      // buffer kept for the next one.
      if (this.scratch.length < length) this.scratch = Buffer.allocUnsafe(length);
      out = this.scratch.subarray(0, length);
      let copied = 0;
      while (copied < length) {
        const chunk = this.chunks[0]!;
        const n = Math.min(chunk.length, length - copied);
        chunk.copy(out, copied, 0, n);
        copied += n;
        if (n === chunk.length) this.chunks.shift();
        else this.chunks[0] = chunk.subarray(n);
      }
    }
    this.available -= length;
    return out;
  }

  private fail(error: Error) {
    if (this.closedWith) return;
    this.closedWith = error;
    for (const waiting of this.pending.splice(0)) waiting.reject(error);
    this.onClose(error);
  }
}

function openSocket(where: ReturnType<typeof displaySocket>): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = where.path ? connect(where.path) : connect(where.port!, where.host);
    socket.once("connect", () => {
      socket.removeListener("error", reject);
      socket.setNoDelay?.(true);
      resolve(socket);
    });
    socket.once("error", reject);
  });
}

function setupRequest(cookie: Buffer | undefined): Buffer {
  const name = cookie ? Buffer.from("MIT-MAGIC-COOKIE-1", "latin1") : Buffer.alloc(0);
  const data = cookie ?? Buffer.alloc(0);
  const out = Buffer.alloc(12 + name.length + pad4(name.length) + data.length + pad4(data.length));
  out.write("l", 0, "latin1"); // little-endian
  out.writeUInt16LE(11, 2);
  out.writeUInt16LE(0, 4);
  out.writeUInt16LE(name.length, 6);
  out.writeUInt16LE(data.length, 8);
  name.copy(out, 12);
  data.copy(out, 12 + name.length + pad4(name.length));
  return out;
}

/** Reads the server's answer to the setup request: refused (with its reason) or the screen. */
function readSetup(socket: Socket, display: string): Promise<{ setup: XSetup; leftover: Buffer }> {
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      if (buffer.length < 8) return;
      const total = 8 + buffer.readUInt16LE(6) * 4;
      if (buffer.length < total) return;
      socket.removeListener("data", onData);
      socket.removeListener("error", onError);
      const status = buffer[0];
      if (status !== 1) {
        const reason = buffer.subarray(8, 8 + buffer[1]!).toString("latin1");
        return reject(new Error(`the X server on ${display} refused the connection: ${reason.trim()}`));
      }
      try {
        resolve({ setup: parseSetup(buffer.subarray(0, total)), leftover: buffer.subarray(total) });
      } catch (error) {
        reject(error as Error);
      }
    };
    const onError = (error: Error) => reject(error);
    socket.on("data", onData);
    socket.once("error", onError);
  });
}

export function parseSetup(reply: Buffer): XSetup {
  const resourceIdBase = reply.readUInt32LE(12);
  const resourceIdMask = reply.readUInt32LE(16);
  const vendorLength = reply.readUInt16LE(24);
  const formatCount = reply[29]!;
  const imageByteOrder = reply[30]!;
  const minKeycode = reply[34]!;
  const maxKeycode = reply[35]!;
  let at = 40 + vendorLength + pad4(vendorLength);
  const formats = new Map<number, number>();
  for (let i = 0; i < formatCount; i++, at += 8) formats.set(reply[at]!, reply[at + 1]!);
  // The first screen: the agent captures the display's default screen.
  const root = reply.readUInt32LE(at);
  const width = reply.readUInt16LE(at + 20);
  const height = reply.readUInt16LE(at + 22);
  const rootVisual = reply.readUInt32LE(at + 32);
  const rootDepth = reply[at + 38]!;
  const depthCount = reply[at + 39]!;
  at += 40;
  let visual: XVisual | undefined;
  for (let d = 0; d < depthCount; d++) {
    const visualCount = reply.readUInt16LE(at + 2);
    at += 8;
    for (let v = 0; v < visualCount; v++, at += 24) {
      if (reply.readUInt32LE(at) !== rootVisual) continue;
      visual = {
        redMask: reply.readUInt32LE(at + 8),
        greenMask: reply.readUInt32LE(at + 12),
        blueMask: reply.readUInt32LE(at + 16),
      };
    }
  }
  if (!visual) throw new Error("the X server's setup names no root visual");
  return {
    root,
    width,
    height,
    rootDepth,
    bitsPerPixel: formats.get(rootDepth) ?? 0,
    imageByteOrder,
    visual,
    resourceIdBase,
    resourceIdMask,
    minKeycode,
    maxKeycode,
  };
}

/** An extension's request opcode and first event code, as QueryExtension reports them. */
export interface Extension {
  major: number;
  firstEvent: number;
}

const OP_GET_GEOMETRY = 14;
const OP_INTERN_ATOM = 16;
const OP_GET_INPUT_FOCUS = 43;
const OP_QUERY_EXTENSION = 98;

/** The extension called `name`, or undefined when the server lacks it. */
export async function queryExtension(x: XConnection, name: string): Promise<Extension | undefined> {
  const reply = await x.request(OP_QUERY_EXTENSION, 0, nameBody(name));
  if (!reply[8]) return undefined;
  return { major: reply[9]!, firstEvent: reply[10]! };
}

/** The atom called `name` (made if the server has none yet). */
export async function internAtom(x: XConnection, name: string): Promise<number> {
  const reply = await x.request(OP_INTERN_ATOM, 0, nameBody(name));
  return reply.readUInt32LE(8);
}

/**
 * A round trip (GetInputFocus, the request libX11's XSync makes): once it answers, the server has
 * handled every request sent before it, so an error for one of them has arrived by then.
 */
export async function sync(x: XConnection): Promise<void> {
  await x.request(OP_GET_INPUT_FOCUS, 0);
}

/** A connection kept open to hear the server's events (a watch): closed by its owner. */
export interface XWatch {
  close(): void;
}

/**
 * Connects to `display` for a watch: `start` sets it up (selects events, reads what it compares
 * against). `onLost` hears once if the connection breaks afterwards, never after `close`. Rejects,
 * with the connection closed, when connecting or `start` fails.
 */
export async function openXWatch(
  display: string,
  xauthority: string | undefined,
  onLost: (error: Error) => void,
  start: (x: XConnection) => Promise<void>,
): Promise<XWatch> {
  const x = await XConnection.connect(display, xauthority);
  let closing = false;
  try {
    await start(x);
  } catch (error) {
    closing = true;
    x.close();
    throw error;
  }
  x.onClose = (error) => {
    if (!closing) onLost(error);
  };
  return {
    close() {
      closing = true;
      x.close();
    },
  };
}

/** The root window's size now (GetGeometry): it follows RandR resizes of the screen. */
export async function rootSize(x: XConnection): Promise<{ width: number; height: number }> {
  const reply = await x.request(OP_GET_GEOMETRY, 0, u32s(x.setup.root));
  return { width: reply.readUInt16LE(16), height: reply.readUInt16LE(18) };
}

/** The body of a request that takes a name: its length, two unused bytes, then the name, padded. */
function nameBody(name: string): Buffer {
  const bytes = Buffer.from(name, "latin1");
  const body = Buffer.alloc(4 + bytes.length + pad4(bytes.length));
  body.writeUInt16LE(bytes.length, 0);
  bytes.copy(body, 4);
  return body;
}

/** A request body of 32-bit words. */
export function u32s(...values: number[]): Buffer {
  const out = Buffer.alloc(values.length * 4);
  values.forEach((v, i) => out.writeUInt32LE(v >>> 0, i * 4));
  return out;
}
