/**
 * Xvfb's framebuffer file against the X server itself: the pixels read from the file are the ones
 * GetImage returns, and a header the capture cannot read is refused with what is wrong.
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startDisplay, startTerminal, type TestDisplay } from "../../testing/display.ts";
import { FramebufferFile, parseXwdHeader } from "./framebuffer-file.ts";
import { XScreenReader } from "./x-screen-reader.ts";

const run = promisify(execFile);

let display: TestDisplay;
beforeAll(async () => {
  display = await startDisplay({ width: 320, height: 240 });
}, 30_000);
afterAll(() => display?.close());

describe("FramebufferFile", () => {
  it("reads the screen GetImage reads, rows at their place", async () => {
    // Something on the screen besides the background: a window with text, above the rows read below.
    await run("xsetroot", ["-solid", "#336699"], { env: display.env });
    const terminal = await startTerminal(display.display, "echo framebuffer; exec sleep 60", {
      geometry: "30x4+10+10",
    });
    const file = await FramebufferFile.open(display.framebuffer);
    const reader = await XScreenReader.open(display.display, display.env.XAUTHORITY);
    try {
      expect(file.layout).toMatchObject({ width: 320, height: 240, pixelFormat: reader.pixelFormat });
      const fromX = await reader.image({ x: 0, y: 0, width: 320, height: 240 }, (p) => Buffer.from(p));
      const background = fromX.subarray(0, 4);
      const pixels = Array.from({ length: 320 * 240 }, (_, i) => fromX.subarray(i * 4, i * 4 + 4));
      expect(pixels.filter((p) => !p.equals(background)).length).toBeGreaterThan(1000);
      const fromFile = Buffer.alloc(320 * 240 * 4, 0xee);
      await file.readRows(0, 240, fromFile);
      expect(fromFile.equals(fromX)).toBe(true);

      // A band of rows lands where it belongs and leaves the rest of the buffer alone.
      await run("xsetroot", ["-solid", "#cc0000"], { env: display.env });
      const band = Buffer.from(fromFile);
      await file.readRows(100, 110, band);
      const stride = 320 * 4;
      expect(band.subarray(0, 100 * stride).equals(fromFile.subarray(0, 100 * stride))).toBe(true);
      expect([...band.subarray(100 * stride, 100 * stride + 3)]).toEqual([0x00, 0x00, 0xcc]);
      expect(band.subarray(110 * stride).equals(fromFile.subarray(110 * stride))).toBe(true);
    } finally {
      reader.close();
      await file.close();
      await terminal.close();
    }
  });

  it("refuses a file that is not a 32-bit Xvfb screen, saying why", () => {
    const header = (fields: Record<number, number>) => {
      const b = Buffer.alloc(100);
      const values = {
        0: 100,
        1: 7,
        2: 2,
        4: 4,
        5: 2,
        7: 0,
        11: 32,
        12: 16,
        14: 0xff0000,
        15: 0xff00,
        16: 0xff,
      };
      for (const [i, v] of Object.entries({ ...values, ...fields })) b.writeUInt32BE(v, Number(i) * 4);
      return b;
    };
    expect(parseXwdHeader(header({}), 100 + 32)).toEqual({
      width: 4,
      height: 2,
      pixelFormat: "bgr0",
      offset: 100,
    });
    expect(parseXwdHeader(header({ 14: 0xff, 16: 0xff0000 }), 132).pixelFormat).toBe("rgb0");
    expect(() => parseXwdHeader(header({ 1: 6 }), 132)).toThrow(/not an Xvfb framebuffer/);
    expect(() => parseXwdHeader(header({ 11: 16, 12: 8 }), 132)).toThrow(/16 bits/);
    expect(() => parseXwdHeader(header({ 14: 0xf800, 15: 0x7e0, 16: 0x1f }), 132)).toThrow(/colour layout/);
    expect(() => parseXwdHeader(header({}), 120)).toThrow(/shorter than its screen/);
    expect(() => parseXwdHeader(Buffer.alloc(20), 20)).toThrow(/cut short/);
  });
});
