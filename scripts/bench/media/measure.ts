/**
 * One measurement of one viewer on one desktop: Connect → first frame, then a steady window for
 * frame rate, bandwidth and server-side CPU, then input-to-photon samples through the viewer's own
 * input path (a click to focus the probe, then keys; see page-hooks.ts for where the clock stops).
 */
import type { Locator, Page } from "@playwright/test";
import type { Probe } from "./workloads.ts";

export interface Figures {
  /** Connect → first frame shown, ms, one per connection made. */
  firstFrameMs: number[];
  fps: number;
  kbps: number;
  /** CPU cores used by the serving side (agent + encoders, or x11vnc) during the steady window. */
  cores: number;
  /** Input-to-photon samples, ms; empty when the desktop has no probe. */
  latencies: number[];
  /** Key presses whose effect never showed within the timeout. */
  lost: number;
  detail: string;
  /** Ours only: ms after the click at which each step towards the first frame happened. */
  steps?: Record<string, number[]>;
}

/** What a viewer exposes to the measurement. */
export interface Counters {
  /** Frames shown and bytes received so far. */
  read(): Promise<{ frames: number; bytes: number }>;
  /** CPU seconds used by the serving side so far. */
  cpuSeconds(): number;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Clicks Connect; returns when the page received the press (what "Connect → …" figures count from,
 * as a person's click would) and when click() was called (later by Playwright's actionability wait).
 */
export async function pressConnect(
  page: Page,
  button: Locator,
): Promise<{ pressedAt: number; calledAt: number }> {
  const calledAt = Date.now();
  await button.click();
  return { pressedAt: await page.evaluate(() => window.__bench.pressedAt), calledAt };
}

export async function waitForFirstFrame(page: Page, since: number): Promise<number> {
  const handle = await page.waitForFunction(() => window.__bench?.firstFrameAt || 0, null, {
    timeout: 20_000,
  });
  return (await handle.jsonValue()) - since;
}

/** Frame rate, bandwidth and CPU over `seconds` of steady state. */
export async function steadyWindow(counters: Counters, seconds: number) {
  const before = await counters.read();
  const cpuBefore = counters.cpuSeconds();
  const startedAt = performance.now();
  await sleep(seconds * 1000);
  const after = await counters.read();
  const elapsed = (performance.now() - startedAt) / 1000;
  return {
    fps: (after.frames - before.frames) / elapsed,
    kbps: ((after.bytes - before.bytes) * 8) / elapsed / 1000,
    cores: (counters.cpuSeconds() - cpuBefore) / elapsed,
  };
}

/**
 * Clicks the probe (at page coordinates `click`), then presses a key `samples` times, each time
 * waiting for the probe to flip in the shown picture. Pauses vary so samples do not phase-lock to
 * the frame clock.
 */
export async function inputToPhoton(
  page: Page,
  probe: Probe,
  click: { x: number; y: number },
  samples: number,
): Promise<{ latencies: number[]; lost: number }> {
  await page.mouse.click(click.x, click.y);
  await sleep(500);
  let lost = 0;
  for (let i = 0; i < samples; i++) {
    await page.evaluate(
      ({ x, y, screenWidth }) => {
        const bench = window.__bench;
        bench.screenWidth = screenWidth;
        bench.armed = { x, y, wantLight: !(bench.luma(x, y) > 128), keyAt: 0 };
      },
      { ...probe.pixel, screenWidth: probe.screenWidth },
    );
    await page.keyboard.press("x");
    const seen = await page
      .waitForFunction(() => window.__bench.armed === null, null, { timeout: 3000, polling: 20 })
      .then(
        () => true,
        () => false,
      );
    if (!seen) {
      lost++;
      // The probe may have flipped anyway later; wait for the picture to settle before the next one.
      await page.evaluate(() => (window.__bench.armed = null));
      await sleep(1000);
    }
    await sleep(120 + Math.random() * 180);
  }
  const latencies = await page.evaluate(() => window.__bench.latencies.splice(0));
  const keysAt = await page.evaluate(() => window.__bench.latencyKeysAt.splice(0));
  if (process.env.BENCH_VERBOSE) {
    // With the key's wall-clock time, a slow sample can be found in the agent's log.
    const slow = latencies.flatMap((ms, i) =>
      ms > 100 ? [`${Math.round(ms)} at ${Math.round(keysAt[i]!)}`] : [],
    );
    process.stderr.write(`latencies, ms: ${latencies.map(Math.round).join(" ")}\n`);
    if (slow.length) process.stderr.write(`slow samples: ${slow.join(", ")}\n`);
  }
  return { latencies, lost };
}
