/**
 * The agent's capture by change (`RD_AGENT_CAPTURE=damage`), end to end: the real agent reads its
 * Xvfb desktop through its own X client (DAMAGE, GetImage) and Chromium decodes what it sends. The
 * test checks decoded pixels before and after a change on the remote screen, and that typed keys
 * land in the terminal there. Then the default (`auto`): a screen that keeps changing is grabbed by
 * ffmpeg instead, and captured by change again once quiet, with the picture right in both. (Files run in name order on the shared product, and first-run.test.ts
 * must find it fresh: this one's name sorts after it.)
 */
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent, typingTerminal } from "./real-agent.ts";
import { answerConsent, connect, screenPoint, videoPixel, viewer } from "./viewer.ts";

test.describe("capture by change", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  test("streams the screen as it changes, and input reaches it", async ({ page, baseURL }) => {
    test.setTimeout(120_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, {
      name: "Change-driven desk",
      // Video fed by change (with tiles on, this screen would go as tiles: e2e/tiles.test.ts).
      env: { RD_AGENT_CAPTURE: "damage", RD_AGENT_TILES: "off" },
    });
    const terminal = typingTerminal(agent, "rd-e2e-damage");

    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    const magenta = (p: readonly number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
    const cyan = (p: readonly number[]) => p[0]! < 60 && p[1]! > 200 && p[2]! > 200;
    await eventually(async () => {
      const p = await videoPixel(page, 0.3, 0.6);
      if (!magenta(p)) throw new Error(`pixel ${p.join(",")}`);
    }, 15_000);

    // A change on the remote screen (a cyan window over the terminal) reaches the viewer.
    agent.launch("xterm", ["-title", "rd-e2e-cyan", "-bg", "#00ffff", "-geometry", "40x10+0+360"]);
    agent.x("xdotool", ["search", "--sync", "--onlyvisible", "--name", "rd-e2e-cyan"]);
    const pixel = await eventually(async () => {
      const p = await videoPixel(page, 0.1, 0.6);
      if (!cyan(p)) throw new Error(`pixel ${p.join(",")}`);
      return p;
    }, 15_000);
    expect(cyan(pixel)).toBe(true);

    // Keys typed in the viewer reach the terminal on the remote desktop.
    const inTerminal = await screenPoint(page, 0.6, 0.2);
    await page.mouse.click(inTerminal.x, inTerminal.y);
    await terminal.focused();
    await page.keyboard.type("by change");
    await page.keyboard.press("Enter");
    await terminal.waitFor("by change\n");
    terminal.remove();
  });

  test("auto: grabs a busy screen, goes back to capture by change when it is quiet, picture right in both", async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, {
      name: "Auto-capture desk",
      // The default capture of video (tiles would carry this text: e2e/tiles.test.ts); debug for
      // the encoder restarts that say which way it captures.
      env: { RD_AGENT_LOG_LEVEL: "debug", RD_AGENT_TILES: "off" },
    });
    const restarted = (why: string) => agent!.logs.some((line) => line.includes(`"why":"${why}"`));
    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    // A terminal that scrolls without pause, like a build's log.
    const busy = agent.launch("xterm", [
      ...["-geometry", "60x20+640+0", "-e", "sh", "-c", "while :; do date +%s%N; sleep 0.01; done"],
    ]);
    await eventually(() => expect(restarted("screen busy: grab")).toBe(true), 20_000);
    const magenta = (p: readonly number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
    const cyan = (p: readonly number[]) => p[0]! < 60 && p[1]! > 200 && p[2]! > 200;
    agent.launch("xterm", ["-title", "rd-e2e-magenta", "-bg", "#ff00ff", "-geometry", "40x10+0+360"]);
    await eventually(async () => {
      const p = await videoPixel(page, 0.1, 0.6);
      if (!magenta(p)) throw new Error(`pixel ${p.join(",")}`);
    }, 15_000);

    busy.kill("SIGKILL");
    await eventually(() => expect(restarted("screen quiet: capture by change")).toBe(true), 20_000);
    agent.launch("xterm", ["-title", "rd-e2e-cyan", "-bg", "#00ffff", "-geometry", "40x10+0+360"]);
    await eventually(async () => {
      const p = await videoPixel(page, 0.1, 0.6);
      if (!cyan(p)) throw new Error(`pixel ${p.join(",")}`);
    }, 15_000);
  });
});
