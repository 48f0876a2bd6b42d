/**
 * A session relayed through TURN, end to end: `npm start` with `RD_TURN=coturn` runs coturn beside
 * the dashboard and the worker hands each peer a short-lived credential; Chromium may use relay
 * candidates only (the page's every RTCPeerConnection is made with `iceTransportPolicy: "relay"`),
 * so the picture it decodes can only have come through coturn. getStats says which pair carried it.
 */
import type { Page } from "@playwright/test";
import { stunBindingAnswered } from "../scripts/lib/coturn.ts";
import { expect, test } from "./fixtures.ts";
import { signInAsAdmin } from "./helpers.ts";
import { type Product, startProduct } from "./product.ts";
import { eventually, finishAgent, type RealAgent, startRealAgent } from "./real-agent.ts";
import { answerConsent, connect, videoPixel, viewer } from "./viewer.ts";

const base = Number(process.env.E2E_PORT ?? 3100);
// Clear of the other tests' instances (+10 … +41): the dashboard, its worker, coturn, its relay ports.
const port = base + 45;
const turnPort = base + 47;
const relayPorts = `${base + 32}-${base + 39}`;

declare global {
  interface Window {
    /** Every RTCPeerConnection the page made and the configuration it asked for, by the init script below. */
    __relayed?: { pc: RTCPeerConnection; config: RTCConfiguration }[];
  }
}

/** The candidate pair the page's peer connection selected, as getStats() reports it. */
function selectedPair(page: Page) {
  return page.evaluate(async () => {
    // The page's live connection: a page may have made more than one (a reconnect makes a new one).
    const found = [];
    for (const { pc } of window.__relayed ?? []) {
      const reports = [...(await pc.getStats()).values()] as {
        type: string;
        id: string;
        [key: string]: unknown;
      }[];
      const transport = reports.find((r) => r.type === "transport" && r.selectedCandidatePairId);
      const selected = reports.find((r) => r.id === transport?.selectedCandidatePairId);
      // The pair that carried the media: Chromium sometimes reports a newly selected pair (nothing
      // on it yet, a static screen sends a frame a second) while the bytes sit on the one before.
      const busiest = reports
        .filter((r) => r.type === "candidate-pair" && r.state === "succeeded")
        .sort((a, b) => ((b.bytesReceived as number) ?? 0) - ((a.bytesReceived as number) ?? 0))[0];
      const pair = (selected?.bytesReceived as number) ? selected : (busiest ?? selected);
      const local = reports.find((r) => r.id === pair?.localCandidateId);
      if (!local) continue;
      found.push({
        // For the failure message: which connection this is, and how far it got.
        state: pc.connectionState,
        pairs: reports
          .filter((r) => r.type === "candidate-pair")
          .map((r) => `${r.state as string}:${(r.bytesReceived as number) ?? 0}`)
          .join(" "),
        local: local.candidateType as string,
        relayProtocol: local.relayProtocol as string | undefined,
        url: local.url as string | undefined,
        bytesReceived: pair!.bytesReceived as number,
        gathered: reports.filter((r) => r.type === "local-candidate").map((r) => r.candidateType as string),
      });
    }
    return found.sort((a, b) => b.bytesReceived - a.bytesReceived)[0];
  });
}

test.describe("a session through the TURN relay", () => {
  let product: Product | undefined;
  let agent: RealAgent | undefined;

  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    await finishAgent(agent, testInfo);
    agent = undefined;
    if (product && testInfo.status !== testInfo.expectedStatus)
      await testInfo.attach("product.log", { body: product.logs.join("\n"), contentType: "text/plain" });
    await product?.stop();
    product = undefined;
  });

  test("relay candidates only: the picture arrives, the selected pair is relayed, the credential stays out of logs", async ({
    browser,
  }) => {
    test.setTimeout(240_000);
    product = await startProduct({
      port,
      env: {
        RD_TURN: "coturn",
        RD_TURN_PORT: String(turnPort),
        RD_TURN_RELAY_PORTS: relayPorts,
        // This test's own agent, with a magenta terminal to find; the demo desktop is not needed.
        RD_DEMO_AGENT: "false",
      },
    });
    const turnUrl = `turn:127.0.0.1:${turnPort}?transport=udp`;
    // npm start says where the relay is once the dashboard answers (a moment after this test sees it).
    await expect
      .poll(() => product!.logs.join("\n"))
      .toContain(`TURN relay: ${turnUrl} (coturn; credentials live 600 s`);
    expect(await stunBindingAnswered("127.0.0.1", turnPort, 1000)).toBe(true);

    const context = await browser.newContext({ baseURL: product.baseURL });
    const page = await context.newPage();
    // As if no host or server-reflexive path existed: the browser may use relayed candidates only.
    await page.addInitScript(() => {
      const Native = window.RTCPeerConnection;
      window.RTCPeerConnection = class extends Native {
        constructor(config: RTCConfiguration = {}) {
          super({ ...config, iceTransportPolicy: "relay" });
          (window.__relayed ??= []).push({ pc: this, config });
        }
        override setConfiguration(config: RTCConfiguration = {}) {
          super.setConfiguration({ ...config, iceTransportPolicy: "relay" });
        }
      };
    });
    await signInAsAdmin(page, product.dataDir);
    agent = await startRealAgent(page, product.baseURL, { name: "Behind a NAT" });
    agent.launch("xterm", ["-title", "rd-e2e-turn", "-bg", "#ff00ff", "-geometry", "200x50+0+0"]);
    agent.x("xdotool", ["search", "--sync", "--onlyvisible", "--name", "rd-e2e-turn"]);

    await connect(page, agent);
    await expect(viewer(page)).toHaveAttribute("data-state", "awaiting_consent", { timeout: 15_000 });
    answerConsent(agent, "allow");
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 30_000 });

    // Decoded: the terminal's magenta, where no pointer is drawn.
    const magenta = (p: readonly number[]) => p[0]! > 200 && p[1]! < 60 && p[2]! > 200;
    const pixel = await eventually(async () => {
      const p = await videoPixel(page, 0.3, 0.6);
      if (!magenta(p)) throw new Error(`pixel ${p.join(",")}`);
      return p;
    }, 20_000);
    expect(magenta(pixel)).toBe(true);

    // The pair that carried it: the browser's end is a relay candidate on our coturn, over UDP.
    // (Stats trail the media by a moment: a pair just selected may not count its bytes yet.)
    const pair = await eventually(async () => {
      const selected = await selectedPair(page);
      if (!selected) throw new Error("no selected candidate pair yet");
      if (!selected.bytesReceived) {
        const seen = `connection ${selected.state}, pairs (state:bytes received) ${selected.pairs}`;
        throw new Error(`the selected pair has carried nothing yet: ${seen}`);
      }
      return selected;
    }, 20_000);
    expect(pair.local).toBe("relay");
    expect(pair.relayProtocol).toBe("udp");
    expect(pair.url).toBe(turnUrl);
    expect(pair.bytesReceived).toBeGreaterThan(0);
    expect(new Set(pair.gathered)).toEqual(new Set(["relay"]));

    // The page got the worker's server with a credential of its own, good for ten minutes at most.
    const server = await page.evaluate(() => window.__relayed![0]!.config.iceServers![0]!);
    expect(server.urls).toEqual([turnUrl]);
    const [expiry, id] = String(server.username).split(":");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(Number(expiry) - Date.now() / 1000).toBeLessThanOrEqual(600);
    expect(Number(expiry) - Date.now() / 1000).toBeGreaterThan(0);
    const credential = String(server.credential);
    expect(credential).toMatch(/^[A-Za-z0-9+/]{27}=$/);
    // Neither the product nor the agent wrote it anywhere we can see.
    expect(product.logs.join("\n")).not.toContain(credential);
    expect(agent.logs.join("\n")).not.toContain(credential);

    await context.close();
    await product.stop();
    product = undefined;
    // Stopping the product stopped coturn with it.
    expect(await stunBindingAnswered("127.0.0.1", turnPort, 1000)).toBe(false);
  });
});
