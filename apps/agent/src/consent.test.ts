/**
 * The consent prompt on a real X display (Xvfb): Deny is the default, so Return refuses; the Allow
 * button allows; closing the window or not answering refuses. And its words name who asks.
 */
import { execFile } from "node:child_process";
import { createLogger } from "@rd/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createXConsentUi, indicatorText, promptText } from "./consent.ts";
import { startDisplay, type TestDisplay, windowGeometry, xdotool } from "./testing/display.ts";

const TITLE = "remote-desk: remote session request";

describe("the consent prompt on X", () => {
  let display: TestDisplay;
  beforeAll(async () => {
    display = await startDisplay({ width: 800, height: 600 });
  });
  afterAll(() => display?.close());

  const ui = () => createXConsentUi(display.display, createLogger("silent", { name: "test" }));

  /** Asks as Ada; resolves with the answer and the prompt's window once it shows. */
  async function ask(asks: "control" | "join", timeoutMs = 20_000) {
    const answer = ui().ask({
      technician: "Ada (ada@acme.example, Acme)",
      asks,
      timeoutMs,
      signal: new AbortController().signal,
    });
    return { answer, window: timeoutMs < 1000 ? "" : await promptWindow() };
  }

  async function promptWindow(): Promise<string> {
    const out = await xdotool(display.env, ["search", "--sync", "--name", TITLE]);
    return out.trim().split("\n")[0]!;
  }

  it("refuses on Return: a person typing when it pops up lets nobody in", async () => {
    const { answer, window: id } = await ask("control");
    const box = await windowGeometry(display.display, id);
    // Without a window manager the keyboard follows the pointer: over the prompt, Return goes to it.
    await xdotool(display.env, [
      "mousemove",
      String(box.x + box.width / 2),
      String(box.y + 10),
      "key",
      "Return",
    ]);
    expect(await answer).toBe("denied_by_user");
  });

  it("allows when the person clicks Allow", async () => {
    const { answer, window: id } = await ask("join");
    const box = await windowGeometry(display.display, id);
    // The buttons sit at the bottom left in the order given: Deny, then Allow (xmessage's layout).
    await xdotool(display.env, [
      "mousemove",
      String(box.x + 71),
      String(box.y + box.height - 14),
      "click",
      "1",
    ]);
    expect(await answer).toBe("accepted");
  });

  it("refuses when nobody answers in time", async () => {
    const { answer } = await ask("control", 300);
    expect(await answer).toBe("consent_timeout");
  });

  it("names who asks, their workspace, and what they want", () => {
    expect(promptText({ technician: "Ada (ada@acme.example, Acme IT)", asks: "control" })).toMatch(
      /^Ada \(ada@acme\.example, Acme IT\) wants to see and control this screen\./,
    );
    expect(promptText({ technician: "Bob (bob@acme.example, Acme IT)", asks: "join" })).toMatch(
      /wants to join the remote session and watch this screen/,
    );
    expect(indicatorText(["Ada"])).toBe("Ada is connected to this screen");
    expect(indicatorText(["Ada", "Bob"])).toBe("Connected to this screen:\n  Ada\n  Bob");
  });
});

describe("the session indicator on a desktop with a window manager", () => {
  let display: TestDisplay;
  beforeAll(async () => {
    display = await startDisplay({ width: 800, height: 600, windowManager: true });
  });
  afterAll(() => display?.close());

  it("asks to stay above the other windows, and so does its replacement", async () => {
    const ui = createXConsentUi(display.display, createLogger("silent", { name: "test" }));
    const indicator = ui.indicate({ technicians: ["Ada"], onEnd: () => {} });
    try {
      await expect.poll(() => aboveIndicators(display), { timeout: 10_000 }).toHaveLength(1);
      const [first] = await aboveIndicators(display);
      const firstClass = await windowClass(display, first!);
      // Someone joins: a new window with the same title replaces the first, and stays above too.
      // (Told apart by its instance name: X may give it the first one's id, freed a moment before.)
      indicator.update(["Ada", "Bob"]);
      const replaced = async () => {
        const shown = await indicators(display);
        const above = await aboveIndicators(display);
        const classes = await Promise.all(shown.map((id) => windowClass(display, id)));
        return shown.length === 1 && classes[0] !== firstClass && above.includes(shown[0]!)
          ? "replaced, and above"
          : JSON.stringify({ firstClass, classes, above });
      };
      await expect.poll(replaced, { timeout: 10_000 }).toBe("replaced, and above");
    } finally {
      indicator.stop();
    }
  });
});

const INDICATOR = "remote-desk: session in progress";

/** The indicator windows on screen now. */
async function indicators(display: TestDisplay): Promise<string[]> {
  const out = await xdotool(display.env, ["search", "--onlyvisible", "--name", INDICATOR]).catch(() => "");
  return out.split("\n").filter(Boolean);
}

/** A window's WM_CLASS, as xprop prints it. */
function windowClass(display: TestDisplay, id: string): Promise<string> {
  return new Promise((resolve) =>
    execFile("xprop", ["-id", id, "WM_CLASS"], { env: display.env }, (_, stdout) => resolve(stdout.trim())),
  );
}

/** The indicator windows the window manager keeps above (_NET_WM_STATE_ABOVE). */
async function aboveIndicators(display: TestDisplay): Promise<string[]> {
  const above: string[] = [];
  for (const id of await indicators(display)) {
    const state = await new Promise<string>((resolve) =>
      execFile("xprop", ["-id", id, "_NET_WM_STATE"], { env: display.env }, (_, stdout) => resolve(stdout)),
    );
    if (state.includes("_NET_WM_STATE_ABOVE")) above.push(id);
  }
  return above;
}
