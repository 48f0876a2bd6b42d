/**
 * Text as tiles, end to end (the default): the real agent sends its terminal as tiles on the
 * `screen` data channel once the first video picture is shown, Chromium draws them, typed keys
 * reach the terminal, and the stats overlay says "tiles". A film on the remote desktop turns the
 * picture to video, and its end back to tiles, with decoded pixels right in each. (Files run in
 * name order on the shared product, and first-run.test.ts must find it fresh: this name sorts
 * after it.)
 */
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent, typingTerminal } from "./real-agent.ts";
import { answerConsent, connect, screenPoint, videoPixel, viewer } from "./viewer.ts";

const magenta = (p: readonly number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
const cyan = (p: readonly number[]) => p[0]! < 60 && p[1]! > 200 && p[2]! > 200;
const yellow = (p: readonly number[]) => p[0]! > 200 && p[1]! > 200 && p[2]! < 60;

test.describe("text as tiles", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  test("a terminal goes as tiles, typing reaches it; a film turns the picture to video and back", async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(150_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, {
      name: "Tiles desk",
      env: { RD_AGENT_LOG_LEVEL: "debug" },
    });
    const terminal = typingTerminal(agent, "rd-e2e-tiles");
    // The viewer says so when it cannot read an update (and turns to video): none may fail.
    const unreadable: string[] = [];
    page.on("console", (message) => {
      if (message.text().startsWith("screen: ")) unreadable.push(message.text());
    });
    const picture = page.getByTestId("remote-viewer");
    const pixelIs = (x: number, y: number, is: (p: readonly number[]) => boolean) =>
      eventually(async () => {
        const p = await videoPixel(page, x, y);
        if (!is(p)) throw new Error(`pixel ${p.join(",")}`);
      }, 15_000);

    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    // Tiles take over from the first video picture, and draw the terminal.
    await expect(picture).toHaveAttribute("data-picture", "tiles", { timeout: 15_000 });
    await pixelIs(0.3, 0.6, magenta);
    expect(agent.logs.some((line) => line.includes('"msg":"screen as tiles"'))).toBe(true);
    // A change arrives as tiles, and keys reach the terminal.
    // Its text anti-aliased, as the product's own terminals draw it: glyphs with their own colours.
    agent.launch("xterm", [
      ...["-title", "rd-e2e-tiles-cyan", "-bg", "#00ffff", "-geometry", "40x10+0+360"],
      ...["-fa", "Monospace", "-fs", "11", "-e", "sh", "-c", "echo anti-aliased text, as glyphs; exec cat"],
    ]);
    await pixelIs(0.1, 0.6, cyan);
    const inTerminal = await screenPoint(page, 0.6, 0.2);
    await page.mouse.click(inTerminal.x, inTerminal.y);
    await terminal.focused();
    await page.keyboard.type("as tiles");
    await page.keyboard.press("Enter");
    await terminal.waitFor("as tiles\n");
    await page.getByTestId("stats-toggle").click();
    await expect(page.getByTestId("stats-codec")).toHaveText("tiles", { timeout: 10_000 });

    // A film beside the terminal costs more as tiles than as video: the picture turns to video.
    const film = agent.launch("ffplay", [
      ...["-f", "lavfi", "-i", "testsrc2=s=480x360:r=30,scroll=h=0.003:v=0.002"],
      ...["-an", "-loglevel", "error", "-nostats", "-left", "520", "-top", "0"],
      ...["-window_title", "rd-e2e-film"],
    ]);
    await expect(picture).toHaveAttribute("data-picture", "video", { timeout: 30_000 });
    await expect(page.getByTestId("stats-codec")).toHaveText("H264", { timeout: 10_000 });
    // (The click into the terminal raised it over the cyan window.)
    await pixelIs(0.3, 0.6, magenta);

    // Once the film is gone and the screen quiet, tiles again, and a change after arrives.
    film.kill("SIGKILL");
    await expect(picture).toHaveAttribute("data-picture", "tiles", { timeout: 30_000 });
    await pixelIs(0.3, 0.6, magenta);
    agent.launch("xterm", ["-title", "rd-e2e-tiles-yellow", "-bg", "#ffff00", "-geometry", "40x10+0+360"]);
    await pixelIs(0.1, 0.6, yellow);
    // The yellow window opened with the focus: keys typed before the click has moved it back go
    // there (CI once saw the "t" of "tiles again" lost so).
    await page.mouse.click(inTerminal.x, inTerminal.y);
    await terminal.focused();
    await page.keyboard.type("tiles again");
    await page.keyboard.press("Enter");
    await terminal.waitFor("as tiles\ntiles again\n");
    expect(unreadable).toEqual([]);
  });
});
