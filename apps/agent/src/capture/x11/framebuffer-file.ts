/**
 * An Xvfb screen read straight from memory. `Xvfb -fbdir DIR` keeps its screen in DIR/Xvfb_screen0,
 * a file it maps and draws into: an XWD image (a header, a colour map, then the rows of pixels).
 * Reading changed rows from it is one copy out of the page cache, where GetImage has the server copy
 * them into a socket and the agent copy them out again, a round trip per read: at 720p twenty times
 * a second that was most of a busy screen's capture cost, and a 1080p screen took ~450 ms to read.
 *
 * Only displays whose Xvfb was started that way have one (the agent's own virtual display, a desk's,
 * or one named by RD_AGENT_FRAMEBUFFER); every other display is read with GetImage.
 */
import { open, type FileHandle } from "node:fs/promises";
import type { RawPixelFormat } from "./x-screen-reader.ts";

/** The name Xvfb gives screen 0's file in its `-fbdir` directory. */
export const XVFB_SCREEN_FILE = "Xvfb_screen0";

/** XWDFileHeader: 25 big-endian CARD32 fields, then the window name (XWDFile.h). */
const HEADER_FIELDS = 25;
const FIELD = {
  headerSize: 0,
  fileVersion: 1,
  pixmapFormat: 2,
  width: 4,
  height: 5,
  byteOrder: 7,
  bitsPerPixel: 11,
  bytesPerLine: 12,
  redMask: 14,
  greenMask: 15,
  blueMask: 16,
  ncolors: 19,
} as const;
const XWD_FILE_VERSION = 7;
const Z_PIXMAP = 2;
const LSB_FIRST = 0;
/** An XWDColor: pixel, red, green, blue, flags, pad. */
const COLOR_BYTES = 12;

export interface FramebufferLayout {
  width: number;
  height: number;
  pixelFormat: RawPixelFormat;
  /** Where the first row of pixels starts in the file. */
  offset: number;
}

/** Reads an XWD header: the screen's layout, or why it is not one the capture can read. */
export function parseXwdHeader(header: Buffer, fileSize: number): FramebufferLayout {
  if (header.length < HEADER_FIELDS * 4) throw new Error("not an XWD image: the header is cut short");
  const field = (name: keyof typeof FIELD) => header.readUInt32BE(FIELD[name] * 4);
  if (field("fileVersion") !== XWD_FILE_VERSION || field("pixmapFormat") !== Z_PIXMAP) {
    throw new Error("not an Xvfb framebuffer (XWD version 7, ZPixmap)");
  }
  const width = field("width");
  const height = field("height");
  if (
    field("bitsPerPixel") !== 32 ||
    field("byteOrder") !== LSB_FIRST ||
    field("bytesPerLine") !== width * 4
  ) {
    throw new Error(
      `the framebuffer's pixels (${field("bitsPerPixel")} bits, ${field("bytesPerLine")} bytes a row) are not 32-bit rows of ${width}`,
    );
  }
  const masks = [field("redMask"), field("greenMask"), field("blueMask")].join();
  const pixelFormat: RawPixelFormat | undefined =
    masks === [0xff0000, 0xff00, 0xff].join()
      ? "bgr0"
      : masks === [0xff, 0xff00, 0xff0000].join()
        ? "rgb0"
        : undefined;
  if (!pixelFormat) throw new Error("the framebuffer's colour layout is not 8 bits per colour");
  const offset = field("headerSize") + field("ncolors") * COLOR_BYTES;
  if (offset + width * height * 4 > fileSize)
    throw new Error("the framebuffer file is shorter than its screen");
  return { width, height, pixelFormat, offset };
}

export class FramebufferFile {
  readonly layout: FramebufferLayout;
  private readonly file: FileHandle;

  private constructor(file: FileHandle, layout: FramebufferLayout) {
    this.file = file;
    this.layout = layout;
  }

  static async open(path: string): Promise<FramebufferFile> {
    const file = await open(path, "r");
    try {
      const { size } = await file.stat();
      // The header's fixed part, then the window name (a few bytes): 256 holds both.
      const header = Buffer.alloc(256);
      const { bytesRead } = await file.read(header, 0, header.length, 0);
      return new FramebufferFile(file, parseXwdHeader(header.subarray(0, bytesRead), size));
    } catch (error) {
      await file.close();
      throw error;
    }
  }

  /** Copies rows [top, bottom) of the screen into `screen` (rows of `width` pixels) at the same place. */
  async readRows(top: number, bottom: number, screen: Buffer): Promise<void> {
    const stride = this.layout.width * 4;
    let at = top * stride;
    const end = bottom * stride;
    while (at < end) {
      const { bytesRead } = await this.file.read(screen, at, end - at, this.layout.offset + at);
      if (bytesRead === 0) throw new Error("the framebuffer file ended before the screen did");
      at += bytesRead;
    }
  }

  async close(): Promise<void> {
    await this.file.close().catch(() => {});
  }
}
