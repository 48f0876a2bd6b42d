/**
 * A session's clipboard wiring against the real X clipboard (Xvfb and xclip): the policy in the
 * session's request decides on each copy off the desktop, and each decision goes to the worker as
 * a `clipboard/event`. The video source and input are real, on the same Xvfb, though with nobody
 * viewing neither does anything; the consent UI is a stand-in an unattended session never asks.
 */
import { createHash } from "node:crypto";
import { createLogger } from "@rd/log";
import type { ClipboardPolicy, SignalMessage, SignalMessageOf } from "@rd/protocol";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { VideoSource } from "./capture/video-source.ts";
import { type Clipboard, createClipboard } from "./clipboard.ts";
import { createInputHandler } from "./input/input-handler.ts";
import { createNutInjector, type Injector } from "./input/injector.ts";
import { AgentSession } from "./session.ts";
import { startDisplay, type TestDisplay } from "./testing/display.ts";

const log = createLogger("silent", { name: "agent", module: "session-test" });
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

const INTERVIEW: ClipboardPolicy = {
  direction: "in",
  maxBytes: 4096,
  blockedPatterns: { cardNumbers: true, nationalIds: true, custom: [] },
};

describe("a session's clipboard", () => {
  let display: TestDisplay;
  /** Someone at the desktop copying: a clipboard of its own, so the session's watch sees news. */
  let desktop: Clipboard;
  let injector: Injector;
  const sessions: AgentSession[] = [];

  beforeAll(async () => {
    display = await startDisplay({ width: 320, height: 240 });
    desktop = createClipboard({ log, display: display.display });
    injector = await createNutInjector({ display: display.display, log });
  });
  afterEach(async () => {
    await Promise.all(sessions.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    injector?.close();
    await display?.close();
  });

  /** An unattended session, active, with `clipboardPolicy` in its request; `sent` is what it told the worker. */
  async function activeSession(clipboardPolicy?: ClipboardPolicy) {
    const sessionId = crypto.randomUUID();
    const sent: SignalMessage[] = [];
    const request: SignalMessageOf<"session/request"> = {
      type: "session/request",
      sessionId,
      technician: { id: crypto.randomUUID(), name: "Ada", email: "ada@example.com", tenant: "Acme" },
      consent: "unattended",
      ...(clipboardPolicy ? { clipboardPolicy } : {}),
    };
    const session = new AgentSession(request, {
      send: (message) => sent.push(message),
      video: new VideoSource({
        target: { platform: process.platform, display: display.display },
        codec: "vp8",
        fps: 5,
        maxKbps: 500,
        log,
      }),
      consent: {
        ask: () => Promise.reject(new Error("an unattended session asks nobody")),
        indicate: () => ({ update: () => {}, stop: () => {} }),
      },
      createInput: () => createInputHandler({ injector, log, screen: () => ({ width: 320, height: 240 }) }),
      clipboard: createClipboard({ log, display: display.display }),
      iceServers: [],
      consentTimeoutMs: 1000,
      log,
      onClosed: () => {},
    });
    sessions.push(session);
    await desktop.write(`baseline ${sessionId}`);
    await session.begin();
    session.onState({ type: "session/state", sessionId, status: "active" });
    const reports = () =>
      sent.filter((m): m is SignalMessageOf<"clipboard/event"> => m.type === "clipboard/event");
    return { sessionId, sent, reports };
  }

  it("reports each copy its policy decides on, with size and hash but not the text", async () => {
    const { sessionId, reports } = await activeSession(INTERVIEW);
    // Let the watch take its baseline before anything is copied.
    await new Promise((r) => setTimeout(r, 700));
    await desktop.write("console.log(42)");
    await vi.waitFor(() => expect(reports()).toHaveLength(1), { timeout: 5_000 });
    expect(reports()).toEqual([
      {
        type: "clipboard/event",
        sessionId,
        flow: "out",
        allowed: false,
        rule: "direction",
        bytes: 15,
        sha256: sha256("console.log(42)"),
      },
    ]);
    expect(JSON.stringify(reports())).not.toContain("console.log");
  });

  it("reports nothing when the agent has no clipboard policy", async () => {
    const { sent } = await activeSession(undefined);
    await new Promise((r) => setTimeout(r, 700));
    await desktop.write("anything at all");
    await new Promise((r) => setTimeout(r, 1_200));
    expect(sent.map((m) => m.type)).toEqual(["session/accept"]);
  });
});
