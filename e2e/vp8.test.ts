/**
 * The other codec end to end: the real agent with `RD_AGENT_CODEC=vp8` (the default, H.264, runs in
 * live-session.test.ts) and Debian Chromium's viewer. The test reads back a decoded pixel, the codec
 * the browser says it decodes, and the codec the agent says it encodes.
 */
import { expect, type Page, test } from "@playwright/test";
import { signInAsAdmin } from "./helpers.ts";
import { eventually, type RealAgent, startRealAgent } from "./real-agent.ts";

declare global {
  interface Window {
    /** Every RTCPeerConnection the page made, recorded by the init script below. */
    __peerConnections?: RTCPeerConnection[];
  }
}

/** The decoded video's pixel at normalized (x, y), read through a canvas. */
function videoPixel(page: Page, x: number, y: number): Promise<number[]> {
  return page.evaluate(
    ([nx, ny]) => {
      const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
      if (!video || !video.videoWidth) throw new Error("no decoded video yet");
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d")!;
      context.drawImage(video, 0, 0);
      const at = [Math.round(nx! * (canvas.width - 1)), Math.round(ny! * (canvas.height - 1))] as const;
      return [...context.getImageData(at[0], at[1], 1, 1).data.subarray(0, 3)];
    },
    [x, y],
  );
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
    if (agent && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach("agent.log", { body: agent.logs.join("\n"), contentType: "text/plain" });
    }
    await agent?.stop();
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

    await page.goto(`/agents/${agent.agentId}`);
    await expect(page.getByRole("button", { name: "Connect" })).toBeEnabled({ timeout: 15_000 });
    await page.getByRole("button", { name: "Connect" }).click();
    const viewer = page.locator("[data-state]").first();
    await expect(viewer).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    const prompt = agent
      .x("xdotool", ["search", "--sync", "--name", "remote-desk: remote session request"])
      .trim()
      .split("\n")[0]!;
    agent.x("xdotool", ["windowactivate", "--sync", prompt, "key", "Return"]);
    await expect(viewer).toHaveAttribute("data-state", "live", { timeout: 15_000 });

    // Decoded: the terminal's magenta where no pointer is drawn (X starts it mid-screen).
    const magenta = (p: number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
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
