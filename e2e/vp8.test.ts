/**
 * The other codec end to end: the real agent with `RD_AGENT_CODEC=vp8` (the default, H.264, runs in
 * live-session.test.ts), and the default agent with a viewer that cannot decode H.264 (Firefox
 * without its OpenH264 plugin, played by Debian Chromium told to answer without H.264). Each test
 * reads back a decoded pixel, the codec the browser says it decodes, and the codec the agent says
 * it encodes.
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

/**
 * Records every RTCPeerConnection the page makes (the viewer keeps its own to itself); with
 * `withoutH264`, each answers without H.264, as a browser that cannot decode it would, by taking it
 * out of the video transceiver's codec preferences once the offer is applied (webrtc-pc §5.4.1).
 */
function recordPeerConnections(page: Page, options: { withoutH264?: boolean } = {}) {
  return page.addInitScript((withoutH264) => {
    const Native = window.RTCPeerConnection;
    window.RTCPeerConnection = class extends Native {
      constructor(...args: ConstructorParameters<typeof RTCPeerConnection>) {
        super(...args);
        (window.__peerConnections ??= []).push(this);
      }
    };
    if (!withoutH264) return;
    // Right after the offer is applied, whichever way the page then makes its answer.
    const setRemoteDescription = Native.prototype.setRemoteDescription as (
      this: RTCPeerConnection,
      description: RTCSessionDescriptionInit,
    ) => Promise<void>;
    Native.prototype.setRemoteDescription = async function (
      this: RTCPeerConnection,
      description: RTCSessionDescriptionInit,
    ) {
      await setRemoteDescription.call(this, description);
      const codecs = RTCRtpReceiver.getCapabilities("video")?.codecs ?? [];
      for (const transceiver of this.getTransceivers()) {
        if (transceiver.receiver.track.kind !== "video") continue;
        transceiver.setCodecPreferences(codecs.filter((c) => c.mimeType.toLowerCase() !== "video/h264"));
      }
    };
  }, options.withoutH264 ?? false);
}

/** The video codecs (encoding names, in order) of the page's offer from the agent and of its answer. */
function negotiatedVideoCodecs(page: Page): Promise<{ offer: string[]; answer: string[] }> {
  return page.evaluate(() => {
    const codecs = (sdp = "") => {
      const formats = /^m=video \d+ \S+ ([\d ]+)/m.exec(sdp)?.[1]?.trim().split(" ") ?? [];
      return formats
        .map((pt) => new RegExp(`^a=rtpmap:${pt} ([^/]+)/`, "m").exec(sdp)?.[1])
        .filter((name) => name && !["rtx", "red", "ulpfec"].includes(name.toLowerCase()));
    };
    const pc = window.__peerConnections?.find((p) => p.remoteDescription);
    return {
      offer: codecs(pc?.remoteDescription?.sdp) as string[],
      answer: codecs(pc?.localDescription?.sdp) as string[],
    };
  });
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

/**
 * A still terminal would go as tiles (e2e/tiles.test.ts); these agents send video, whose codec is
 * what is tested here (a film or a recorder gets video from any agent).
 */
const VIDEO_ONLY = "off";

test.describe("VP8 to the viewer", () => {
  let agent: RealAgent | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
  });

  /**
   * Connects to `agent`, whose desktop shows a magenta terminal titled `title`, and checks that the
   * picture arrives as VP8: decoded pixels, the decoder's codec, and both lines of the stats overlay.
   */
  async function expectMagentaInVp8(page: Page, title: string) {
    agent!.launch("xterm", ["-title", title, "-bg", "#ff00ff", "-geometry", "200x50+0+0"]);
    agent!.x("xdotool", ["search", "--sync", "--onlyvisible", "--name", title]);

    await connect(page, agent!);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent!, "allow");
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
  }

  test("streams VP8 that Chromium decodes: the magenta terminal, codec video/VP8 both ends", async ({
    page,
    baseURL,
  }) => {
    test.setTimeout(120_000);
    await recordPeerConnections(page);
    await signInAsAdmin(page);
    agent = await startRealAgent(page, baseURL!, {
      name: "VP8 desk",
      env: { RD_AGENT_CODEC: "vp8", RD_AGENT_TILES: VIDEO_ONLY },
    });
    await expectMagentaInVp8(page, "rd-e2e-vp8");
    // VP8 is the agent's preference, and H.264 is offered too, for viewers without VP8.
    expect(await negotiatedVideoCodecs(page)).toMatchObject({ offer: ["VP8", "H264"] });
  });

  test("an H.264 agent sends VP8 to a viewer that cannot decode H.264", async ({ page, baseURL }) => {
    test.setTimeout(120_000);
    await recordPeerConnections(page, { withoutH264: true });
    await signInAsAdmin(page);
    // The default codec, H.264: the agent prefers it, and offers VP8 after it.
    agent = await startRealAgent(page, baseURL!, {
      name: "H.264 desk, VP8 viewer",
      env: { RD_AGENT_TILES: VIDEO_ONLY },
    });
    await expectMagentaInVp8(page, "rd-e2e-vp8-fallback");
    const { offer, answer } = await negotiatedVideoCodecs(page);
    expect(offer).toEqual(["H264", "VP8"]);
    expect(answer).not.toContain("H264");
    expect(answer[0]).toBe("VP8");
  });
});
