/**
 * An interview, end to end, as the people in it do it: `npm start` on an empty data directory (its
 * warm desk pool on, as `npm start` defaults it); the interviewer creates a PIN-protected desk on
 * the Desks page and copies its link; the candidate, in a browser of their own with no account,
 * opens it, gives the PIN and types into the desk's terminal — the file lands inside the desk's
 * sandbox, read through its init's /proc root; the interviewer watches, takes control, hands it
 * back, and each change shows on the candidate's page; a third browser with the link is told the
 * desk is open on another device and is locked out after five wrong PINs; revoking the link cuts
 * the candidate off. A second desk with the shortest lifetime warns its candidate, expires by
 * itself, and leaves nothing behind: no sandbox process, no desk directory.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import type { Browser, Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { completeSetup } from "./helpers.ts";
import { type Product, startProduct } from "./product.ts";
import { eventually } from "./real-agent.ts";
import { screenPoint, videoPixel, viewer } from "./viewer.ts";

const port = Number(process.env.E2E_PORT ?? 3100) + 30;

/** Where the product's desk host keeps this desk's sandbox (desk-hosting.ts: named after DATA_DIR). */
function deskDir(product: Product, deskId: string) {
  const key = createHash("sha256").update(path.resolve(product.dataDir)).digest("hex").slice(0, 12);
  return path.join(tmpdir(), `rd-desks-${key}`, deskId);
}

/** The host pid of the desk sandbox's init, from the provider's state file. */
function deskPid(product: Product, deskId: string): number {
  const state = JSON.parse(readFileSync(path.join(deskDir(product, deskId), "desk.json"), "utf8")) as {
    pid?: number;
  };
  if (!state.pid) throw new Error("the desk has no pid yet");
  return state.pid;
}

const alive = (pid: number) => existsSync(`/proc/${pid}`);

/** Creates a desk on the Desks page; returns its link, PIN and id. */
async function createDesk(
  page: Page,
  base: string,
  label: string,
  options: { pin: boolean; ttlMinutes?: number },
) {
  await page.goto(`${base}/desks`);
  await page.getByTestId("new-desk").click();
  await page.getByTestId("desk-candidate").fill(label);
  if (options.ttlMinutes) await page.getByTestId("desk-ttl").fill(String(options.ttlMinutes));
  if (options.pin) await page.getByTestId("desk-pin").check();
  await page.getByTestId("create-desk").click();
  const link = await page.getByTestId("desk-link").inputValue();
  const pin = options.pin ? ((await page.getByTestId("desk-pin-value").textContent()) ?? "").trim() : "";
  await page.getByRole("link", { name: "Open the desk's page" }).click();
  await expect(page).toHaveURL(/\/desks\/[0-9a-f-]{36}$/);
  const deskId = page.url().split("/").at(-1)!;
  return { link, pin, deskId };
}

/** A browser of the candidate's own: no cookies of the interviewer's, its clipboard usable by the page. */
async function candidatePage(browser: Browser, origin: string): Promise<Page> {
  const context = await browser.newContext();
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin });
  return context.newPage();
}

test.describe("interview desks", () => {
  let product: Product | undefined;
  // eslint-disable-next-line no-empty-pattern -- Playwright hands fixtures first; this hook needs none.
  test.afterEach(async ({}, testInfo) => {
    if (product && testInfo.status !== testInfo.expectedStatus) {
      await testInfo.attach("product.log", { body: product.logs.join("\n"), contentType: "text/plain" });
    }
    await product?.stop();
    product = undefined;
  });

  test("create, candidate types, watch and take over, another device, revoke, expiry", async ({
    page,
    browser,
  }) => {
    test.setTimeout(480_000);
    product = await startProduct({ port, env: { LOG_LEVEL: "info" } });
    const url = (p: string) => `${product!.baseURL}${p}`;
    await page.goto(url("/"));
    const printed = product.logs.join("\n").match(/setup token: ([0-9A-Z-]{19})/);
    await completeSetup(page, printed![1]);
    await expect(page).toHaveURL(/\/agents$/);
    // The warm pool fills once a workspace exists: give it its start before the first desk.
    await page.goto(url("/desks"));
    await expect(page.getByTestId("warm-desks")).toBeVisible({ timeout: 60_000 });

    // ——— The interviewer creates a PIN-protected desk ———
    const created = Date.now();
    const first = await createDesk(page, product.baseURL, "Ada Lovelace", { pin: true });
    expect(first.link).toMatch(new RegExp(`^${product.baseURL}/d/[A-Za-z0-9_-]{43}$`));
    expect(first.pin).toMatch(/^\d{6}$/);

    // ——— The candidate opens it: no account, the PIN, then their desktop ———
    const candidate = await candidatePage(browser, product.baseURL);
    await candidate.goto(first.link);
    await candidate.getByTestId("candidate-pin").fill(first.pin);
    await candidate.getByTestId("candidate-pin-submit").click();
    await expect(candidate.getByTestId("candidate-desk")).toBeVisible({ timeout: 30_000 });
    await expect(viewer(candidate)).toHaveAttribute("data-state", "live", { timeout: 30_000 });
    await eventually(async () => {
      const [r, g, b] = await videoPixel(candidate, 0.3, 0.3);
      if (!(r > 200 && g > 200 && b > 200)) throw new Error(`pixel ${r},${g},${b}`);
    }, 15_000);
    console.log(`desk created → candidate sees its terminal: ${Date.now() - created} ms (warm pool)`);
    await expect(candidate.getByTestId("controller")).toHaveText("You have control");

    const pid = deskPid(product, first.deskId);
    const mark = `rd-interview-${Date.now()}`;
    const terminal = await screenPoint(candidate, 0.3, 0.3);
    await candidate.mouse.click(terminal.x, terminal.y);
    await candidate.waitForTimeout(300);
    await candidate.keyboard.type(`touch /tmp/${mark}`);
    await candidate.keyboard.press("Enter");
    await eventually(() => readFileSync(`/proc/${pid}/root/tmp/${mark}`), 10_000);

    // ——— The clipboard policy (interview default: paste in up to 4 KiB, nothing out) ———
    // A paste lands in the desk's clipboard (read back inside the desk by its own xclip)…
    await candidate.evaluate(() => navigator.clipboard.writeText("hello-desk"));
    await candidate.getByTestId("send-clipboard").click();
    await candidate.mouse.click(terminal.x, terminal.y);
    await candidate.keyboard.type("xclip -o -selection clipboard ");
    await candidate.keyboard.press("Shift+Period");
    await candidate.keyboard.type(` /tmp/${mark}-pasted`);
    await candidate.keyboard.press("Enter");
    await eventually(() => {
      const pasted = readFileSync(`/proc/${pid}/root/tmp/${mark}-pasted`, "utf8");
      if (pasted !== "hello-desk") throw new Error(`pasted: ${pasted}`);
    }, 10_000);
    // …a card number does not, and the candidate is told why;
    await candidate.evaluate(() => navigator.clipboard.writeText("4111 1111 1111 1111"));
    await candidate.getByTestId("send-clipboard").click();
    await expect(candidate.getByTestId("toast").last()).toContainText("card number", { timeout: 10_000 });
    // …and what the candidate copies in the desk stays there.
    await candidate.mouse.click(terminal.x, terminal.y);
    await candidate.keyboard.type("echo copied-out ");
    await candidate.keyboard.press("Shift+Backslash");
    await candidate.keyboard.type(" xclip -selection clipboard");
    await candidate.keyboard.press("Enter");
    await expect(candidate.getByTestId("toast").last()).toContainText(/not (shared|allowed)/i, {
      timeout: 10_000,
    });
    await expect(candidate.getByTestId("remote-clipboard")).toHaveCount(0);

    // ——— The interviewer watches, takes control, hands it back ———
    await expect(page.getByTestId("watch-desk")).toBeEnabled({ timeout: 10_000 });
    await page.getByTestId("watch-desk").click();
    await expect(page).toHaveURL(/\/sessions\/[0-9a-f-]{36}\/live/);
    await expect(viewer(page)).toHaveAttribute("data-state", "live", { timeout: 30_000 });
    // A desk's session leads back to the desk, not to its agent (desk agents have no page).
    await expect(page.getByRole("link", { name: "← Desk: Ada Lovelace" })).toHaveAttribute(
      "href",
      `/desks/${first.deskId}`,
    );
    await expect(candidate.getByTestId("watchers")).toContainText("is watching", { timeout: 10_000 });
    await page.getByTestId("take-control").click();
    await expect(candidate.getByTestId("controller")).toHaveText(/ has control$/, { timeout: 10_000 });
    await expect(candidate.getByTestId("controller")).not.toHaveText("You have control");
    await page.getByTestId("give-control").first().click();
    await expect(candidate.getByTestId("controller")).toHaveText("You have control", { timeout: 10_000 });

    // ——— Another device with the link: told so, and locked out by wrong PINs ———
    const other = await candidatePage(browser, product.baseURL);
    await other.goto(first.link);
    await expect(other.getByTestId("pin-message")).toContainText("open in another browser", {
      timeout: 10_000,
    });
    const wrong = first.pin === "000000" ? "111111" : "000000";
    for (let i = 0; i < 5; i++) {
      await other.getByTestId("candidate-pin").fill(wrong);
      await other.getByTestId("candidate-pin-submit").click();
      await expect(other.getByTestId("candidate-pin-submit")).toHaveText("Open the desk");
    }
    await expect(other.getByTestId("pin-message")).toContainText("locked");
    await expect(other.getByTestId("candidate-pin")).toBeDisabled();
    // The candidate's own desk carried on.
    await expect(viewer(candidate)).toHaveAttribute("data-state", "live");

    // ——— Revoking the link cuts the candidate off ———
    await page.goto(url(`/desks/${first.deskId}`));
    // The desk's timeline has each transfer: its size, hash and rule, never the text.
    await expect(page.getByText("Clipboard transfer allowed").first()).toBeVisible();
    await expect(page.getByText("Clipboard transfer blocked").first()).toBeVisible();
    await expect(page.getByText("card_number").first()).toBeVisible();
    // The card number itself: "4111" alone also turns up by chance inside the hashes shown.
    await expect(page.getByText(/4111[ -]?1111/)).toHaveCount(0);
    await expect(page.getByText("hello-desk")).toHaveCount(0);
    const revoked = Date.now();
    await page.getByTestId("revoke-link").click();
    await expect(candidate.getByTestId("desk-refused")).toHaveAttribute("data-reason", "revoked", {
      timeout: 10_000,
    });
    console.log(`revoke → candidate cut off: ${Date.now() - revoked} ms`);
    // The session's page names the candidate (who has no account) and the interviewer as such.
    await page.getByRole("link", { name: "Who watched, and when" }).click();
    const participants = page.getByTestId("participants-table");
    await expect(participants.locator("tr", { hasText: "Ada Lovelace (candidate)" })).toContainText(
      "link revoked",
    );
    await expect(participants).toContainText("Ada Admin (interviewer)");
    await expect(page.getByText("Interviewer", { exact: true })).toBeVisible();
    await page.goBack();
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Terminate" }).click();
    await eventually(() => {
      if (existsSync(deskDir(product!, first.deskId)) || alive(pid)) throw new Error("desk still there");
    }, 20_000);

    // ——— A short desk: warned, then it expires and nothing is left ———
    const second = await createDesk(page, product.baseURL, "Grace Hopper", { pin: false, ttlMinutes: 2 });
    const next = await candidatePage(browser, product.baseURL);
    await next.goto(second.link);
    await expect(viewer(next)).toHaveAttribute("data-state", "live", { timeout: 30_000 });
    await expect(next.getByTestId("expiry-warning")).toHaveAttribute("data-warning", "five");
    const secondPid = deskPid(product, second.deskId);
    await expect(next.getByTestId("expiry-warning")).toHaveAttribute("data-warning", "minute", {
      timeout: 130_000,
    });
    await expect(next.getByTestId("desk-refused")).toHaveAttribute("data-reason", "ended", {
      timeout: 90_000,
    });
    await eventually(() => {
      if (existsSync(deskDir(product!, second.deskId)) || alive(secondPid))
        throw new Error("desk still there");
    }, 20_000);
    await page.goto(url(`/desks/${second.deskId}`));
    await expect(page.getByTestId("desk-state")).toContainText("terminated");
    // No share link's token reached the product's output, whatever was logged at info level.
    const output = product.logs.join("\n");
    for (const link of [first.link, second.link]) expect(output).not.toContain(link.split("/d/")[1]);
    await expect(page.getByText("its time was up").first()).toBeVisible();
  });
});
