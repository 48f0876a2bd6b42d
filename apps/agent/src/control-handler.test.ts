/**
 * The control channel's handler against the real X clipboard (Xvfb and xclip): what a viewer's
 * messages set is read back from X. Replies and quality changes are what the handler hands its
 * peer, recorded as they come.
 */
import { createLogger } from "@rd/log";
import type { ControlMessage, QualityPreset } from "@rd/protocol";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { type Clipboard, createClipboard } from "./clipboard.ts";
import { type ClipboardReport, createClipboardGate } from "./clipboard-gate.ts";
import { CONTROL_LIMITS, createControlHandler, type ControlHandlerOptions } from "./control-handler.ts";
import { startDisplay, type TestDisplay } from "./testing/display.ts";

const log = createLogger("silent", { name: "agent", module: "control-test" });
const clipboardMessage = (text: string) => JSON.stringify({ type: "control/clipboard", text });
const qualityMessage = (preset: QualityPreset) => JSON.stringify({ type: "control/quality", preset });

describe("the control channel's handler", () => {
  let display: TestDisplay;
  let clipboard: Clipboard;

  beforeAll(async () => {
    display = await startDisplay({ width: 320, height: 240 });
    clipboard = createClipboard({ log, display: display.display });
  });
  afterAll(async () => {
    await display?.close();
  });

  const newHandler = (options: Partial<ControlHandlerOptions> = {}) => {
    const replies: ControlMessage[] = [];
    const qualities: QualityPreset[] = [];
    const handler = createControlHandler({
      clipboard,
      inControl: () => true,
      reply: (message) => replies.push(message),
      setQuality: (preset) => qualities.push(preset),
      log,
      ...options,
    });
    return { handler, replies, qualities };
  };

  it("sets the remote clipboard for the viewer in control", async () => {
    const { handler } = newHandler();
    handler.handle(clipboardMessage("from the controller"));
    await vi.waitFor(async () => expect(await clipboard.read()).toBe("from the controller"), {
      timeout: 5_000,
    });
  });

  it("refuses the clipboard of a viewer without control and tells that viewer why", async () => {
    await clipboard.write("before");
    const { handler, replies } = newHandler({ inControl: () => false });
    handler.handle(clipboardMessage("from an observer"));
    expect(replies).toEqual([
      {
        type: "control/notice",
        level: "warning",
        message: "Only the participant in control can set the remote clipboard.",
      },
    ]);
    expect(await clipboard.read()).toBe("before");
  });

  describe("under a clipboard policy", () => {
    const PID = "22222222-2222-4222-8222-222222222222";
    const interview = {
      direction: "in" as const,
      maxBytes: 4096,
      blockedPatterns: { cardNumbers: true, nationalIds: true, custom: [] },
    };
    /** A handler under the interview policy; `writes` is every clipboard write it asked for. */
    const gated = () => {
      const reports: ClipboardReport[] = [];
      const writes: string[] = [];
      const gate = createClipboardGate(interview, (report) => reports.push(report));
      const counting: Clipboard = {
        ...clipboard,
        write: (text) => (writes.push(text), clipboard.write(text)),
      };
      return { ...newHandler({ clipboard: counting, gate, participantId: PID }), reports, writes };
    };

    it("writes a paste the policy lets in, and reports it", async () => {
      const { handler, replies, reports, writes } = gated();
      handler.handle(clipboardMessage("const answer = 42;"));
      await vi.waitFor(async () => expect(await clipboard.read()).toBe("const answer = 42;"), {
        timeout: 5_000,
      });
      expect(replies).toEqual([]);
      expect(writes).toEqual(["const answer = 42;"]);
      expect(reports).toEqual([
        expect.objectContaining({
          flow: "in",
          allowed: true,
          rule: "allowed",
          bytes: 18,
          participantId: PID,
        }),
      ]);
    });

    it("does not write a blocked paste, and tells the viewer why without echoing it", async () => {
      await clipboard.write("before");
      const { handler, replies, reports, writes } = gated();
      handler.handle(clipboardMessage("my card 4111 1111 1111 1111"));
      handler.handle(clipboardMessage("x".repeat(5000)));
      expect(replies).toEqual([
        {
          type: "control/notice",
          level: "warning",
          message: "That text looks like a card number; it was not pasted.",
        },
        {
          type: "control/notice",
          level: "warning",
          message: "That text is over the 4 KiB limit; it was not pasted.",
        },
      ]);
      expect(reports.map((r) => [r.allowed, r.rule, r.bytes])).toEqual([
        [false, "card_number", 27],
        [false, "size", 5000],
      ]);
      expect(JSON.stringify([replies, reports])).not.toContain("4111");
      expect(writes).toEqual([]);
      expect(await clipboard.read()).toBe("before");
    });

    it("refuses a viewer without control before the policy is asked: nothing to audit", async () => {
      const reports: ClipboardReport[] = [];
      const gate = createClipboardGate(interview, (report) => reports.push(report));
      const { handler, replies } = newHandler({ gate, participantId: PID, inControl: () => false });
      handler.handle(clipboardMessage("hello"));
      expect(replies).toMatchObject([
        { message: "Only the participant in control can set the remote clipboard." },
      ]);
      expect(reports).toEqual([]);
    });
  });

  it("drops messages beyond the budget before parsing them, and takes more once it refills", () => {
    let now = 0;
    const { handler, qualities } = newHandler({ now: () => now });
    for (let i = 0; i < 100; i++) handler.handle(qualityMessage(i % 2 ? "low" : "high"));
    // A burst's worth went through; the rest, still in the same instant, did not.
    expect(qualities).toHaveLength(CONTROL_LIMITS.burst);
    expect(handler.dropped()).toBe(100 - CONTROL_LIMITS.burst);
    now += 1000;
    for (let i = 0; i < 100; i++) handler.handle(qualityMessage("balanced"));
    expect(qualities).toHaveLength(CONTROL_LIMITS.burst + CONTROL_LIMITS.perSecond);
  });

  it("writes a flood of clipboard messages as a few clipboard writes, ending with one of them", async () => {
    const writes: string[] = [];
    const counting: Clipboard = { ...clipboard, write: (text) => (writes.push(text), clipboard.write(text)) };
    const { handler } = newHandler({ clipboard: counting, now: () => 0 });
    for (let i = 0; i < 1_000; i++) handler.handle(clipboardMessage(`flood ${i}`));
    expect(writes).toHaveLength(CONTROL_LIMITS.burst);
    await vi.waitFor(async () => expect(await clipboard.read()).toBe(writes.at(-1)), { timeout: 5_000 });
  });

  it("drops what is not a control message, and what only the agent sends", () => {
    const { handler, replies, qualities } = newHandler();
    handler.handle("not json");
    handler.handle(Buffer.from([1, 2, 3]));
    handler.handle(JSON.stringify({ type: "control/quality", preset: "ultra" }));
    handler.handle(JSON.stringify({ type: "control/screen", width: 10, height: 10 }));
    expect(handler.dropped()).toBe(3);
    expect(replies).toEqual([]);
    expect(qualities).toEqual([]);
  });
});
