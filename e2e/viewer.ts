/**
 * The viewer as the browser tests (and bench:media) drive it: Connect, the consent prompt on the
 * agent's desktop, decoded pixels and where a remote point is on the page.
 */
import type { ConsentPolicy } from "@rd/protocol";
import { expect, type Page } from "@playwright/test";
import type { RealAgent } from "./real-agent.ts";

/** The viewer component; its data-state says where the session is. */
export const viewer = (page: Page) => page.locator("[data-state]").first();

/** The decoded video's pixel at normalized (x, y), read through a canvas. */
export async function videoPixel(page: Page, x: number, y: number): Promise<[number, number, number]> {
  return page.evaluate(
    ([nx, ny]) => {
      const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
      if (!video || !video.videoWidth) throw new Error("no decoded video yet");
      const canvas = document.createElement("canvas");
      canvas.width = video.videoWidth;
      canvas.height = video.videoHeight;
      const context = canvas.getContext("2d")!;
      context.drawImage(video, 0, 0);
      const d = context.getImageData(
        Math.round(nx! * (video.videoWidth - 1)),
        Math.round(ny! * (video.videoHeight - 1)),
        1,
        1,
      ).data;
      return [d[0]!, d[1]!, d[2]!] as [number, number, number];
    },
    [x, y],
  );
}

/**
 * Where normalized (x, y) of the remote screen is on the page (object-fit: contain letterboxes).
 * Waits for the element to know its picture's size: right after the tiles take over from the first
 * video frame (or back), its new stream has none for a moment.
 */
export async function screenPoint(page: Page, x: number, y: number) {
  // Checked and measured in one evaluation: between two, the size could drop to 0 (CI saw NaN).
  const point = await page.waitForFunction(
    ([nx, ny]) => {
      const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
      if (!video || !video.videoWidth || !video.videoHeight) return null;
      const box = video.getBoundingClientRect();
      const scale = Math.min(box.width / video.videoWidth, box.height / video.videoHeight);
      const width = video.videoWidth * scale;
      const height = video.videoHeight * scale;
      const left = box.left + (box.width - width) / 2;
      const top = box.top + (box.height - height) / 2;
      return { x: left + nx! * width, y: top + ny! * height };
    },
    [x, y],
  );
  return (await point.jsonValue())!;
}

/**
 * Sets the agent's consent policy on its page (open) and waits until it is saved: the select shows
 * the new value at once, and a Connect made before the save would be asked under the old policy.
 */
export async function setConsentPolicy(page: Page, policy: ConsentPolicy) {
  // Request and response apart, so a failure says which one never came (CI once waited 3 min here).
  const sent = page.waitForRequest((r) => r.url().includes("agents.setConsentPolicy"), { timeout: 15_000 });
  await page.getByTestId("consent-policy").selectOption(policy, { timeout: 15_000 });
  const response = await (await sent).response();
  expect(response?.ok(), `saving the consent policy: ${await response?.text()}`).toBe(true);
  await expect(page.getByTestId("consent-policy")).toHaveValue(policy);
}

/** Clicks Connect on the agent's page; resolves with the new session's id. */
export async function connect(page: Page, agent: RealAgent) {
  await page.goto(`/agents/${agent.agentId}`);
  await expect(page.getByRole("button", { name: "Connect" })).toBeEnabled({ timeout: 15_000 });
  await page.getByRole("button", { name: "Connect" }).click();
  await expect(page).toHaveURL(/\/sessions\/[0-9a-f-]{36}\/live/);
  return /\/sessions\/([0-9a-f-]{36})\/live/.exec(page.url())![1]!;
}

/**
 * The person at the machine answers the consent prompt: clicks Allow, presses Return (which denies:
 * Deny is the default), or closes the window (which denies too).
 */
export function answerConsent(agent: RealAgent, answer: "allow" | "return" | "close") {
  const id = agent
    .x("xdotool", ["search", "--sync", "--name", "remote-desk: remote session request"])
    .trim()
    .split("\n")[0]!;
  if (answer === "close") return void agent.x("xdotool", ["windowkill", id]);
  agent.x("xdotool", ["windowactivate", "--sync", id]);
  if (answer === "return") return void agent.x("xdotool", ["key", "Return"]);
  // The buttons sit at the bottom left in the order given, Deny then Allow (xmessage's layout);
  // the pointer moves relative to the window itself, whatever frame the window manager adds.
  const height = Number(
    /^HEIGHT=(\d+)$/m.exec(agent.x("xdotool", ["getwindowgeometry", "--shell", id]))?.[1],
  );
  agent.x("xdotool", ["mousemove", "--window", id, "71", String(height - 14), "click", "1"]);
}
