/**
 * The live session, end to end with nothing simulated: Debian Chromium runs the dashboard's viewer,
 * the signaling worker runs beside the dashboard (as `npm start` runs it), and the real agent
 * captures a real Xvfb desktop and injects input into it. What the test checks, it reads back from
 * X itself: decoded pixels, the X pointer, a file written by a terminal, the X clipboard.
 */
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent, typingTerminal } from "./real-agent.ts";
import { answerConsent, connect, screenPoint, videoPixel, viewer } from "./viewer.ts";

test.describe("live session with the real agent", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  test("consent, first frame, pointer, keyboard, clipboard both ways, disconnect with the full trail", async ({
    page,
    context,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: baseURL });
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, { name: "Lab workstation" });
    // A magenta terminal over most of the screen: the pixels to find, and an app to type into.
    const terminal = typingTerminal(agent, "rd-e2e-target");

    const sessionId = await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    // First frame decoded: the terminal's magenta where no pointer is drawn (X starts it mid-screen).
    const [r, g, b] = await eventually(async () => {
      const pixel = await videoPixel(page, 0.3, 0.6);
      if (!(pixel[0] > 200 && pixel[1] < 60 && pixel[2] > 200)) throw new Error(`pixel ${pixel}`);
      return pixel;
    }, 15_000);
    expect([r > 200, g < 60, b > 200]).toEqual([true, true, true]);

    // A pointer move in the viewer moves the real X pointer to the same place on the remote screen.
    const target = await screenPoint(page, 0.25, 0.5);
    await page.mouse.move(target.x, target.y);
    const pointer = await eventually(() => {
      const p = agent!.pointer();
      if (Math.abs(p.x - 320) > 3 || Math.abs(p.y - 360) > 3) throw new Error(`pointer at ${p.x},${p.y}`);
      return p;
    });
    expect(Math.abs(pointer.x - 320)).toBeLessThanOrEqual(3);

    // A click focuses the terminal (fluxbox focuses on click), and typed keys reach it.
    const inTerminal = await screenPoint(page, 0.5, 0.3);
    await page.mouse.click(inTerminal.x, inTerminal.y);
    // The window manager moves focus on its own time; a person would not type mid-click either.
    await terminal.focused();
    await page.keyboard.type("hello remote");
    await page.keyboard.press("Enter");
    await terminal.waitFor("hello remote\n");
    // Playwright types "$" as the key Digit4 that made "$", with no Shift held (as on-screen
    // keyboards do): the desktop gets the characters, not the unshifted keys.
    await page.keyboard.type('Echo $((4+5)) {"a":1} <b|c> ~!@#%^&*_?');
    await page.keyboard.press("Enter");
    await terminal.waitFor('hello remote\nEcho $((4+5)) {"a":1} <b|c> ~!@#%^&*_?\n');
    // What never comes as key events (an on-screen keyboard's or an input method's text) goes
    // through the Keyboard button's field: characters as typed, a correction as Backspaces.
    await page.getByRole("button", { name: "Keyboard" }).click();
    const field = page.getByTestId("text-entry");
    await expect(field).toBeFocused();
    await page.keyboard.insertText("Übung é ж wprld");
    // The keyboard's autocorrect replaces the word, as Android's do.
    await field.evaluate((element: HTMLTextAreaElement) => {
      element.value = element.value.replace("wprld", "world");
      element.dispatchEvent(new InputEvent("input", { inputType: "insertReplacementText" }));
    });
    await page.keyboard.insertText("\n");
    await terminal.waitFor('hello remote\nEcho $((4+5)) {"a":1} <b|c> ~!@#%^&*_?\nÜbung é ж world\n');
    terminal.remove();

    // Clipboard, viewer → remote: the X clipboard holds what the technician sent.
    await page.evaluate(() => navigator.clipboard.writeText("from the viewer"));
    await page.getByRole("button", { name: /send clipboard/i }).click();
    await eventually(() => {
      const remote = agent!.x("xclip", ["-selection", "clipboard", "-o"]);
      if (remote !== "from the viewer") throw new Error(`X clipboard: ${remote}`);
    });

    // Clipboard, remote → viewer: something copied on the remote machine shows up in the viewer,
    // and reaches the technician's own clipboard only when they click Copy.
    const localClipboard = () => page.evaluate(() => navigator.clipboard.readText());
    const panel = page.getByTestId("remote-clipboard");
    agent.launch("sh", ["-c", "printf 'copied on the remote machine' | xclip -selection clipboard -i"]);
    await expect(panel.getByText("copied on the remote machine")).toBeVisible({ timeout: 10_000 });
    // Not written by itself: it stays what the technician put there, for as long as a write would take.
    for (let i = 0; i < 10; i++) {
      expect(await localClipboard()).toBe("from the viewer");
      await page.waitForTimeout(100);
    }
    await expect(panel.getByTestId("remote-clipboard-status")).toHaveText(/not in your clipboard/i);
    await panel.getByRole("button", { name: "Copy", exact: true }).click();
    await expect.poll(localClipboard).toBe("copied on the remote machine");
    await expect(panel.getByTestId("remote-clipboard-status")).toHaveText(/copied to your clipboard/i);

    // Opted in for this session, the next remote copy lands in the technician's clipboard unasked.
    await panel.getByLabel("Copy remote clipboard automatically").check();
    agent.launch("sh", ["-c", "printf 'copied again' | xclip -selection clipboard -i"]);
    await expect(panel.getByText("copied again")).toBeVisible({ timeout: 10_000 });
    await expect.poll(localClipboard).toBe("copied again");

    // A notice from the remote machine is labelled as its words.
    agent.launch("sh", ["-c", "head -c 70000 /dev/zero | tr '\\0' x | xclip -selection clipboard -i"]);
    await expect(
      page
        .getByTestId("toast")
        .filter({ hasText: "Remote machine says:" })
        .filter({ hasText: /more than 65,536/ }),
    ).toBeVisible({ timeout: 10_000 });

    await page.getByRole("button", { name: "End session" }).click();
    await expect(viewer(page)).toHaveAttribute("data-state", "ended", { timeout: 10_000 });

    await page.goto(`/sessions/${sessionId}`);
    for (const label of ["Session requested", "Consent requested", "Session started", "Session ended"]) {
      await expect(page.getByText(label).first()).toBeVisible();
    }
    await expect(
      page
        .getByText("ended_by_technician")
        .or(page.getByText(/ended by the technician/i))
        .first(),
    ).toBeVisible();
  });

  test("the person at the machine presses Return: Deny is the default, the session is denied", async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(90_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, { name: "Denying desk" });
    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "return");
    await expect(viewer(page)).toHaveAttribute("data-state", "denied", { timeout: 10_000 });
    await expect(viewer(page)).toHaveAttribute("data-reason", "denied_by_user");
  });

  test("nobody answers: the request times out as denied", async ({ page, baseURL }) => {
    test.setTimeout(90_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, {
      name: "Empty office",
      env: { RD_AGENT_CONSENT_TIMEOUT_MS: "2000" },
    });
    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "denied", { timeout: 15_000 });
    await expect(viewer(page)).toHaveAttribute("data-reason", "consent_timeout");
  });

  test("the agent dies mid-session: the viewer says the agent went offline", async ({ page, baseURL }) => {
    test.setTimeout(90_000);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, { name: "Crashing kiosk" });
    const sessionId = await connect(page, agent);
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    agent.child.kill("SIGKILL");
    await expect(viewer(page)).toHaveAttribute("data-state", "ended", { timeout: 20_000 });
    await expect(viewer(page)).toHaveAttribute("data-reason", "agent_offline");
    await expect(page.getByText(/agent went offline/i).first()).toBeVisible();
    await page.goto(`/sessions/${sessionId}`);
    await expect(
      page
        .getByText("agent_offline")
        .or(page.getByText(/agent went offline/i))
        .first(),
    ).toBeVisible();
  });
});
