import { readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it, vi } from "vitest";
import { pointerLocation, startDisplay, startTerminal, xdotool, type TestDisplay } from "./display.ts";

describe("test displays", () => {
  const displays: TestDisplay[] = [];
  afterAll(async () => {
    for (const d of displays) await d.close();
  });

  it("starts two Xvfbs side by side on different display numbers", async () => {
    const [a, b] = await Promise.all([startDisplay({ width: 640, height: 480 }), startDisplay()]);
    displays.push(a, b);
    expect(a.display).not.toBe(b.display);
    expect(a.env.DISPLAY).toBe(a.display);
    await xdotool(a.env, ["mousemove", "639", "479"]);
    expect(await pointerLocation(a.display)).toEqual({ x: 639, y: 479 });
  });

  it("keeps the pointer where it was after the last client disconnects", async () => {
    const d = await startDisplay();
    displays.push(d);
    await xdotool(d.env, ["mousemove", "123", "45"]);
    // Each xdotool run is a client that connects and leaves; without -noreset the server would reset.
    await xdotool(d.env, ["getmouselocation"]);
    expect(await pointerLocation(d.display)).toEqual({ x: 123, y: 45 });
  });

  it("opens a focused terminal that receives typed text", async () => {
    const d = await startDisplay({ windowManager: true });
    displays.push(d);
    const file = path.join(tmpdir(), `rd-display-${process.pid}-${Date.now()}.txt`);
    const term = await startTerminal(d.display, `cat > ${file}`);
    try {
      await xdotool(d.env, ["type", "--delay", "20", "ok\n"]);
      await vi.waitFor(async () => expect(await readFile(file, "utf8")).toBe("ok\n"), { timeout: 10_000 });
    } finally {
      await term.close();
      await rm(file, { force: true });
    }
  });

  it("kills the X server on close", async () => {
    const d = await startDisplay();
    await d.close();
    await expect(pointerLocation(d.display)).rejects.toThrow();
  });
});
