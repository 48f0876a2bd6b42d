/**
 * Recording and replay, end to end: the dashboard as `npm start` runs it (its recorder in the same
 * process), a real agent on Xvfb whose recording policy an admin sets to "always", two technicians
 * in Chromium. The session is recorded while A types and hands control to B, who types too; the
 * replay page then plays the decoded recording with the audit timeline beside it, and clicking
 * "Control handed over" lands on that moment. A second test kills the agent mid-recording.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { type Browser, type Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { addTechnician, completeSetup, signInAsAdmin, signInAsNewUser } from "./helpers.ts";
import { type Product, startProduct } from "./product.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent, typingTerminal } from "./real-agent.ts";
import { answerConsent, connect, screenPoint, videoPixel, viewer } from "./viewer.ts";

async function personAt(browser: Browser, baseURL: string, who: { email: string; password: string }) {
  const context = await browser.newContext({ baseURL });
  const page = await context.newPage();
  await signInAsNewUser(page, who);
  return page;
}

/** Calls a tRPC query as the page's signed-in user (superjson over GET). */
async function query<T>(page: Page, path: string, input: unknown): Promise<T> {
  return page.evaluate(
    async ({ path, input }) => {
      const url = `/api/trpc/${path}?input=${encodeURIComponent(JSON.stringify({ json: input }))}`;
      const response = await fetch(url);
      const body = (await response.json()) as { result?: { data: { json: unknown } }; error?: unknown };
      if (!body.result) throw new Error(`${path}: ${JSON.stringify(body.error)}`);
      return body.result.data.json;
    },
    { path, input },
  ) as Promise<T>;
}

interface ReplayData {
  session: { durationMs?: number | null; startedAt: string; endedAt: string | null };
  recordings: {
    id: string;
    state: string;
    stopReason: string | null;
    durationMs: number;
    startedAt: string;
    segments: { seq: number }[];
  }[];
}

/** Where (x, y) of the remote screen is, once the viewer has decoded a frame (its size is known then). */
async function pointOnScreen(page: Page, x: number, y: number) {
  await eventually(() => videoPixel(page, 0.5, 0.5), 15_000);
  return screenPoint(page, x, y);
}

/** Sets the agent's recording policy on its page, as an admin does. */
async function setRecordingPolicy(page: Page, agentId: string, policy: "never" | "always" | "choice") {
  await page.goto(`/agents/${agentId}`);
  await page.getByLabel("Recording policy").selectOption(policy);
  await expect(page.getByTestId("recording-policy")).toHaveAttribute("data-policy", policy);
}

/** Plays the replay from `seconds` until a few decoded frames were shown. */
async function playsDecodedFrames(page: Page) {
  const video = page.getByTestId("replay-video");
  await expect(video).toBeVisible();
  await page.getByRole("button", { name: /^Play/ }).click();
  await expect
    .poll(() => video.evaluate((v: HTMLVideoElement) => v.getVideoPlaybackQuality().totalVideoFrames), {
      timeout: 20_000,
    })
    .toBeGreaterThan(5);
  await expect
    .poll(() => video.evaluate((v: HTMLVideoElement) => v.currentTime), { timeout: 10_000 })
    .toBeGreaterThan(0);
}

test.describe("recording and replay", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  test("a recorded session replays beside its timeline; an event click seeks to its moment", async ({
    page: a,
    browser,
    baseURL,
  }) => {
    test.setTimeout(240_000);
    await signInAsAdmin(a);
    const bob = {
      name: "Bob Recorded",
      email: `bob-rec-${Date.now()}@acme.example`,
      password: "bob-long-password",
    };
    await addTechnician(a, bob);
    agent = await startRealAgent(a, baseURL!, { name: "Recorded desk" });
    await setRecordingPolicy(a, agent.agentId, "always");
    const terminal = typingTerminal(agent, "rd-e2e-recorded");

    const sessionId = await connect(a, agent);
    answerConsent(agent, "allow");
    await expect(viewer(a)).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    // Everyone in the session sees it is recorded, and so does the person at the machine.
    await expect(a.getByTestId("recording-control")).toHaveAttribute("data-recording", "on", {
      timeout: 15_000,
    });
    // xdotool exits 1 while no such window exists yet, and a poll whose callback throws stops at
    // once: the window may map a moment after the recording shows as on.
    const indicatorWindows = () => {
      try {
        return agent!.x("xdotool", ["search", "--name", "remote-desk: session in progress"]).trim().length;
      } catch {
        return 0;
      }
    };
    await expect.poll(indicatorWindows, { timeout: 10_000 }).toBeGreaterThan(0);

    const inTerminal = await pointOnScreen(a, 0.5, 0.3);
    await a.mouse.click(inTerminal.x, inTerminal.y);
    await terminal.focused();
    await a.keyboard.type("typed while recorded");
    await a.keyboard.press("Enter");
    await terminal.waitFor("typed while recorded\n");

    // B joins; A hands control over; B types.
    const b = await personAt(browser, baseURL!, bob);
    await b.goto(`/sessions/${sessionId}/live`);
    await b.getByTestId("join-session").click();
    answerConsent(agent, "allow");
    await expect(viewer(b)).toHaveAttribute("data-state", "live", { timeout: 20_000 });
    await expect(b.getByTestId("recording-control")).toHaveAttribute("data-recording", "on");
    await b.getByTestId("request-control").click();
    await expect(a.getByText("asks for control").first()).toBeVisible();
    await a.waitForTimeout(3000); // some picture between the typing and the hand-over
    await a.getByTestId("give-control").click();
    await expect(viewer(b)).toHaveAttribute("data-in-control", "true");
    const bAt = await pointOnScreen(b, 0.5, 0.3);
    await b.mouse.click(bAt.x, bAt.y);
    await b.keyboard.type("and by bob");
    await b.keyboard.press("Enter");
    await terminal.waitFor("typed while recorded\nand by bob\n");
    await b.waitForTimeout(4000);

    await a.getByRole("button", { name: "End session" }).click();
    await expect(viewer(a)).toHaveAttribute("data-state", "ended", { timeout: 10_000 });
    // Nothing records an ended session: the indicator goes, and the page points to the replay.
    const control = a.getByTestId("recording-control");
    await expect(control).toHaveAttribute("data-recording", "ended");
    await expect(control.getByText("Recording", { exact: true })).toHaveCount(0);
    await expect(control.getByRole("link", { name: "Replay" })).toHaveAttribute(
      "href",
      `/sessions/${sessionId}/replay`,
    );
    terminal.remove();
    await b.context().close();

    // The recording ends with the session, complete, as long as the session within a second.
    const data = await expect
      .poll(
        async () => (await query<ReplayData>(a, "recordings.bySession", { sessionId })).recordings[0]?.state,
        {
          timeout: 30_000,
        },
      )
      .toBe("complete")
      .then(() => query<ReplayData>(a, "recordings.bySession", { sessionId }));
    const recording = data.recordings[0]!;
    const session = await query<{ durationMs: number }>(a, "sessions.byId", { id: sessionId });
    expect(recording.segments.length).toBeGreaterThan(1);
    expect(Math.abs(recording.durationMs - session.durationMs)).toBeLessThan(1000);

    // Replay, reached from the ended live page: decoded frames play; clicking the hand-over lands
    // within a second of it.
    await control.getByRole("link", { name: "Replay" }).click();
    await expect(a).toHaveURL(new RegExp(`/sessions/${sessionId}/replay$`));
    await playsDecodedFrames(a);
    const handOver = a.getByRole("button", { name: /Control handed over/ }).first();
    const atMs = Number(await handOver.getAttribute("data-at-ms"));
    await handOver.click();
    await expect
      .poll(
        async () =>
          Math.abs(
            (await a.getByTestId("replay-video").evaluate((v: HTMLVideoElement) => v.currentTime)) * 1000 -
              atMs,
          ),
        {
          timeout: 15_000,
        },
      )
      .toBeLessThan(1000);
    // The segments verify against the audit chain.
    await a.getByRole("button", { name: "Verify recording" }).click();
    await expect(a.getByTestId("recording-verified")).toHaveText(/verified/i, { timeout: 15_000 });

    // The admin exports the session's audit and verifies it offline; an edited line is named.
    await a.goto(`/sessions/${sessionId}`);
    const [download] = await Promise.all([a.waitForEvent("download"), a.getByTestId("export-audit").click()]);
    const exported = await download.path();
    const verify = (file: string) =>
      spawnSync(process.execPath, ["scripts/audit-verify.ts", file], { encoding: "utf8" });
    const ok = verify(exported);
    expect(ok.stdout).toMatch(/^OK: \d+ events, \d+ signed heads?/);
    expect(ok.status).toBe(0);
    const lines = readFileSync(exported, "utf8").split("\n");
    const handOverLine = lines.findIndex((l) => l.includes('"control_granted"'));
    expect(handOverLine).toBeGreaterThan(0);
    lines[handOverLine] = lines[handOverLine]!.replace('"control_granted"', '"control_released"');
    const edited = path.join(tmpdir(), `rd-edited-${Date.now()}.jsonl`);
    writeFileSync(edited, lines.join("\n"));
    const failed = verify(edited);
    rmSync(edited, { force: true });
    expect(failed.status).toBe(1);
    expect(failed.stdout + failed.stderr).toContain(`FAILED at line ${handOverLine + 1}`);
  });

  test("an agent killed mid-recording leaves an incomplete recording that plays to its last frame and verifies", async ({
    page: a,
    baseURL,
  }) => {
    test.setTimeout(180_000);
    await signInAsAdmin(a);
    agent = await startRealAgent(a, baseURL!, { name: "Killed while recorded" });
    await setRecordingPolicy(a, agent.agentId, "always");
    const sessionId = await connect(a, agent);
    answerConsent(agent, "allow");
    await expect(viewer(a)).toHaveAttribute("data-state", "live", { timeout: 15_000 });
    await expect(a.getByTestId("recording-control")).toHaveAttribute("data-recording", "on", {
      timeout: 15_000,
    });
    await a.waitForTimeout(6000);
    const killedAt = Date.now();
    process.kill(-agent.child.pid!, "SIGKILL");

    await expect
      .poll(
        async () => (await query<ReplayData>(a, "recordings.bySession", { sessionId })).recordings[0]?.state,
        {
          timeout: 60_000,
        },
      )
      .toBe("incomplete");
    const { recordings } = await query<ReplayData>(a, "recordings.bySession", { sessionId });
    const recording = recordings[0]!;
    // It ends at the last frame that arrived, around the kill (frames in flight, one frame interval
    // shown), not when the session ended, seconds later, once the agent had not come back.
    const endedAt = Date.parse(recording.startedAt) + recording.durationMs;
    const session = await query<{ endedAt: string }>(a, "sessions.byId", { id: sessionId });
    expect(Math.abs(endedAt - killedAt)).toBeLessThan(1500);
    expect(Date.parse(session.endedAt) - endedAt).toBeGreaterThan(2000);

    await a.goto(`/sessions/${sessionId}/replay`);
    await expect(a.getByText(/ended without a clean stop/).first()).toBeVisible();
    await playsDecodedFrames(a);
    await a.getByRole("button", { name: "Verify recording" }).click();
    await expect(a.getByTestId("recording-verified")).toHaveText(/verified/i, { timeout: 15_000 });
  });

  test("a full recording disk stops the recording with an event and a warning; the session goes on", async ({
    page,
  }) => {
    test.setTimeout(240_000);
    // A 128 KiB tmpfs as the recording directory: the first segment or two fill it.
    const disk = mkdtempSync(path.join(tmpdir(), "rd-full-disk-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=128k,mode=0700", "tmpfs", disk]);
    } catch {
      rmSync(disk, { recursive: true, force: true });
      test.skip(true, "mounting a small tmpfs needs root");
      return;
    }
    let product: Product | undefined;
    try {
      // `npm start` as a person runs it, demo agent and all, with its recordings on the small disk.
      product = await startProduct({
        port: Number(process.env.E2E_PORT ?? 3100) + 40,
        env: { RD_RECORDING_DIR: disk },
      });
      const url = (p: string) => `${product!.baseURL}${p}`;
      await page.goto(url("/"));
      const printed = product.logs.join("\n").match(/setup token: ([0-9A-Z-]{19})/);
      await completeSetup(page, printed![1]);
      const row = page.getByRole("row", { name: /Demo desktop/ });
      await expect(row).toContainText("Online:", { timeout: 60_000 });
      await row.getByRole("link", { name: "Demo desktop" }).click();
      await page.getByRole("button", { name: "Connect" }).click();
      await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 20_000 });
      await page.getByTestId("start-recording").click();
      await expect(page.getByTestId("recording-control")).toHaveAttribute("data-recording", "on", {
        timeout: 15_000,
      });
      // Keep the picture changing so segments are written and the disk fills.
      const at = await pointOnScreen(page, 0.3, 0.3);
      await page.mouse.click(at.x, at.y);
      for (let i = 0; i < 10; i++) {
        await page.keyboard.type(`ls -la /usr/bin | head -${40 + i}`);
        await page.keyboard.press("Enter");
        await page.waitForTimeout(800);
      }
      await expect(
        page.getByRole("alert").filter({ hasText: /Recording stopped: the recording store failed/ }),
      ).toBeVisible({
        timeout: 60_000,
      });
      await expect(page.getByTestId("recording-control")).toHaveAttribute("data-recording", "off");
      // The session itself goes on.
      await expect(viewer(page)).toHaveAttribute("data-state", "live");
      const sessionId = /\/sessions\/([0-9a-f-]{36})\/live/.exec(page.url())![1]!;
      const stopped = await query<{ type: string; data: Record<string, unknown> }[]>(
        page,
        "events.bySession",
        {
          sessionId,
        },
      );
      const event = stopped.find((e) => e.type === "recording_stopped")!;
      expect(event.data).toMatchObject({ state: "failed" });
      expect(String(event.data.reason)).toMatch(/^store_failed: /);
    } finally {
      await product?.stop();
      execFileSync("umount", [disk]);
      rmSync(disk, { recursive: true, force: true });
    }
  });
});
