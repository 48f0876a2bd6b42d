/**
 * Faults of the signaling worker, as `npm start` runs it: inside the dashboard's process. SIGKILL
 * that process mid-session (no goodbye of any kind) and start it again on the same data: the media
 * is peer to peer, so the picture keeps playing throughout; the agent and the viewer reconnect
 * their signaling with their credentials; input works after; the timeline shows the gap. Kill the
 * agent too and restart only the dashboard: the session ends as `interrupted` once the grace
 * period is over, never left active with nobody in it.
 */
import { type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { type Browser, type Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { type Product, startProduct } from "./product.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent, typingTerminal } from "./real-agent.ts";
import { connect, screenPoint, setConsentPolicy, viewer } from "./viewer.ts";

const port = Number(process.env.E2E_PORT ?? 3100) + 20;

/** Counts the frames the page presents (requestVideoFrameCallback), into window.__framesShown. */
async function countFrames(page: Page) {
  await page.evaluate(() => {
    const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]')!;
    const w = window as unknown as { __framesShown: number };
    w.__framesShown = 0;
    const tick = () => {
      w.__framesShown++;
      video.requestVideoFrameCallback(tick);
    };
    video.requestVideoFrameCallback(tick);
  });
}
const framesShown = (page: Page) =>
  page.evaluate(() => (window as unknown as { __framesShown: number }).__framesShown);

/**
 * SIGKILL, no goodbye of any kind; resolves once the process is gone, so that a product restarted
 * on its port right after finds the port free (startProduct refuses one something answers on).
 */
async function killOutright(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = once(child, "exit");
  child.kill("SIGKILL");
  await gone;
}

/** What a test has started, for afterEach to stop whatever point the test failed at. */
interface Running {
  product?: Product;
  agent?: RealAgent;
}

/**
 * A product, an admin signed in to it, a real agent (notify) with a busy terminal, a live session.
 * Each part goes into `running` the moment it exists: a failure halfway must not leave a product on
 * this port for the next test to talk to (CI saw the next test end a leftover's session).
 */
async function liveSession(browser: Browser, running: Running, env: Record<string, string>) {
  const product = await startProduct({ port, entry: "server", env: { RD_DEMO_AGENT: "false", ...env } });
  running.product = product;
  const context = await browser.newContext({ baseURL: product.baseURL });
  const page = await context.newPage();
  await signInAsAdmin(page, product.dataDir);
  const agent = await startRealAgent(page, product.baseURL, { name: "Steady desk" });
  running.agent = agent;
  await page.goto(`/agents/${agent.agentId}`);
  await setConsentPolicy(page, "notify");
  // A screen that changes all the time, so a picture that stops would show.
  agent.launch("xterm", [
    "-title",
    "rd-e2e-busy",
    "-geometry",
    "80x10+700+400",
    "-e",
    "sh",
    "-c",
    "while true; do date +%s.%N; sleep 0.05; done",
  ]);
  const sessionId = await connect(page, agent);
  await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 20_000 });
  await countFrames(page);
  return { product, page, agent, sessionId };
}

test.describe("the signaling worker dies mid-session", () => {
  let running: Running = {};
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    const { product, agent } = running;
    running = {};
    if (product && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach("product.log", { body: product.logs.join("\n"), contentType: "text/plain" });
    }
    await finishAgent(agent, testInfo);
    await product?.stop();
  });

  test("SIGKILL and restart: the picture plays on, input works after, the timeline shows the gap", async ({
    browser,
  }) => {
    test.setTimeout(180_000);
    const env = { SIGNAL_HEARTBEAT_MS: "2000" };
    const { page, sessionId, product: first, agent } = await liveSession(browser, running, env);
    const terminal = typingTerminal(agent, "rd-e2e-typing", "80x20+0+0", { bg: "white", fg: "black" });

    // No goodbye: the process that holds the worker (and the dashboard) is killed outright.
    await killOutright(first.child);
    await expect(viewer(page)).toHaveAttribute("data-signaling", "reconnecting", { timeout: 15_000 });
    const during = await framesShown(page);
    await page.waitForTimeout(3000);
    expect(await framesShown(page)).toBeGreaterThan(during + 10);
    await expect(viewer(page)).toHaveAttribute("data-state", "live");

    const dataDir = first.dataDir;
    const onlineBefore = agent.logs.filter((line) => line.includes('"msg":"online"')).length;
    running.product = await startProduct({
      port,
      dataDir,
      entry: "server",
      env: { RD_DEMO_AGENT: "false", ...env },
    });
    await expect(viewer(page)).toHaveAttribute("data-signaling", "connected", { timeout: 30_000 });
    // The agent is back on the restarted worker too, with its session.
    await eventually(() => {
      const online = agent.logs.filter((line) => line.includes('"msg":"online"')).length;
      if (online <= onlineBefore) throw new Error("the agent has not reconnected yet");
    }, 30_000);
    await expect(viewer(page)).toHaveAttribute("data-state", "live");
    // The picture never stopped, and input (which needs the session to be live) works.
    const after = await framesShown(page);
    await page.waitForTimeout(1000);
    expect(await framesShown(page)).toBeGreaterThan(after);
    const inTerminal = await screenPoint(page, 0.2, 0.1);
    await page.mouse.click(inTerminal.x, inTerminal.y);
    await terminal.focused();
    await page.keyboard.type("after the restart");
    await page.keyboard.press("Enter");
    await terminal.waitFor("after the restart\n");
    terminal.remove();

    // Signaling works too: ending the session reaches the agent's side.
    await page.getByRole("button", { name: "End session" }).click();
    await expect(viewer(page)).toHaveAttribute("data-state", "ended", { timeout: 10_000 });
    await eventually(() => {
      if (!agent.logs.some((line) => line.includes('"session over"')))
        throw new Error("the agent did not hear");
    });
    await page.goto(`/sessions/${sessionId}`);
    await expect(page.getByText("Signaling restored").first()).toBeVisible();
    await expect(page.getByText("gapMs").first()).toBeVisible();
    await page.context().close();
  });

  test("kill the worker and the agent, restart only the worker: the session ends interrupted", async ({
    browser,
  }) => {
    test.setTimeout(180_000);
    // Short liveness so the sweep comes soon: gone for the grace period plus two refreshes.
    const env = { SIGNAL_HEARTBEAT_MS: "1000", SIGNAL_RESUME_GRACE_MS: "2000" };
    const { page, sessionId, product: first, agent } = await liveSession(browser, running, env);

    await Promise.all([killOutright(first.child), killOutright(agent.child)]);
    const dataDir = first.dataDir;
    running.product = await startProduct({
      port,
      dataDir,
      entry: "server",
      env: { RD_DEMO_AGENT: "false", ...env },
    });
    await expect(viewer(page)).toHaveAttribute("data-state", "ended", { timeout: 60_000 });
    await expect(viewer(page)).toHaveAttribute("data-reason", "interrupted");
    await page.goto(`/sessions/${sessionId}`);
    await expect(page.getByText("interrupted").first()).toBeVisible();
    await page.context().close();
  });
});
