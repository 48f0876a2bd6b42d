/**
 * The other codec end to end: the real agent with `RD_AGENT_CODEC=vp8` (the default, H.264, runs in
 * live-session.test.ts) and Debian Chromium's viewer. The test reads back a decoded pixel, the codec
 * the browser says it decodes, and the codec the agent says it encodes.
 */
import { type Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent } from "./real-agent.ts";
import { answerConsent, connect, videoPixel, viewer } from "./viewer.ts";

declare global {
  interface Window {
    /** Every RTCPeerConnection the page made, recorded by the init script below. */
    __peerConnections?: RTCPeerConnection[];
  }
}

/** The MIME type of the codec the page's peer connection decodes video with, per getStats(). */
function inboundVideoCodec(page: Page): Promise<string | undefined> {
  return page.evaluate(async () => {
    for (const pc of window.__peerConnections ?? []) {
      const reports = [...(await pc.getStats()).values()] as { type: string; [key: string]: unknown }[];
      const inbound = reports.find((r) => r.type === "inbound-rtp" && r.kind === "video");
      const codec = reports.find((r) => r.type === "codec" && r.id === inbound?.codecId);
      if (codec) return codec.mimeType as string;
    }
    return undefined;
  });
}

test.describe("a VP8 agent", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  test("streams VP8 that Chromium decodes: the magenta terminal, codec video/VP8 both ends", async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    // The viewer keeps its peer connection to itself; record each one as the page makes it.
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
          super(...args);
          (window.__peerConnections ??= []).push(this);
        }
      };
    });
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, { name: "VP8 desk", env: { RD_AGENT_CODEC: "vp8" } });
    agent.launch("xterm", ["-title", "rd-e2e-vp8", "-bg", "#ff00ff", "-geometry", "200x50+0+0"]);
    agent.x("xdotool", ["search", "--sync", "--onlyvisible", "--name", "rd-e2e-vp8"]);

    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    // Decoded: the terminal's magenta where no pointer is drawn (X starts it mid-screen).
    const magenta = (p: readonly number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
    const pixel = await eventually(async () => {
      const p = await videoPixel(page, 0.3, 0.6);
      if (!magenta(p)) throw new Error(`pixel ${p.join(",")}`);
      return p;
    }, 15_000);
    expect(magenta(pixel)).toBe(true);
    expect(await inboundVideoCodec(page)).toBe("video/VP8");

    // The stats overlay shows both: the browser's decoder, and the agent's report of its encoder.
    await page.getByTestId("stats-toggle").click();
    await expect(page.getByTestId("stats-codec")).toHaveText("VP8", { timeout: 10_000 });
    await expect(page.getByTestId("stats")).toContainText(/Agent encoder\s*VP8,/, { timeout: 10_000 });
  });
});
