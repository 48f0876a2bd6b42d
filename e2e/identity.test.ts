/**
 * Identity and hardening as a person meets it, in Chromium against the dashboard `npm start`
 * serves: the security headers and the Host check, a `?next=` that cannot leave the site,
 * two-factor sign-in set up from the Account page and used with a code and a recovery code, and a
 * workspace policy that sends a technician to set it up before anything else. The admin who turns
 * two-factor on is one of its own, so the other suites' admin keeps signing in with a password.
 */
import http from "node:http";
import { totpCodeAt as codeFor } from "@rd/auth/testing/totp-code";
import type { Page } from "@playwright/test";
import { expect, test } from "./fixtures.ts";
import { addTechnician, admin, signIn, signInAsAdmin, signInAsNewUser } from "./helpers.ts";

test.describe.configure({ mode: "serial" });

/** A GET with a Host header of our choosing (fetch does not let one set it). */
function getWithHost(url: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers: { host } }, (res) => {
        let body = "";
        res.setEncoding("utf8").on("data", (c: string) => (body += c));
        res.on("end", () => resolve({ status: res.statusCode!, body }));
      })
      .on("error", reject);
  });
}

async function signOut(page: Page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
}

test("strict CSP with a nonce, Permissions-Policy, no HSTS over http; an unknown Host is refused", async ({
  page,
  baseURL,
}) => {
  const response = (await page.goto("/login"))!;
  const csp = response.headers()["content-security-policy"]!;
  expect(csp).toMatch(/script-src 'self' 'nonce-[^']+'/);
  expect(csp).toContain("frame-ancestors 'none'");
  expect(csp).toContain("object-src 'none'");
  // WebSockets only to the signaling worker, not anywhere.
  expect(csp).toMatch(/connect-src 'self' ws:\/\/127\.0\.0\.1:\d+/);
  expect(csp).not.toMatch(/ ws: wss:/);
  expect(response.headers()["permissions-policy"]).toContain("camera=()");
  expect(response.headers()["strict-transport-security"]).toBeUndefined();

  const rebinding = await getWithHost(`${baseURL}/login`, "attacker.example");
  expect(rebinding.status).toBe(421);
  expect(rebinding.body).toContain("RD_ALLOWED_HOSTS");
  expect((await getWithHost(`${baseURL}/healthz`, "localhost")).status).toBe(200);
});

test("sign-in's next= never leaves the site", async ({ page }) => {
  await signInAsAdmin(page);
  await signOut(page);
  for (const next of ["/\\evil.example/x", "/%09/evil.example", "//evil.example"]) {
    await page.goto(`/login?next=${next}`);
    await page.getByLabel("Email", { exact: true }).fill("ada@acme.example");
    await page.getByLabel("Password").fill("a-long-admin-password");
    await page.getByRole("button", { name: "Sign in", exact: true }).click();
    await expect(page).toHaveURL(/^http:\/\/127\.0\.0\.1:\d+\/agents$/);
    await signOut(page);
  }
});

test("a password form before the page's script runs sends nothing: no password in a URL, no lost typing", async ({
  page,
  browser,
  baseURL,
}) => {
  await signInAsAdmin(page);
  // The page as it is before its script runs: a slow connection, or one still hydrating.
  const noScript = await browser.newContext({
    baseURL,
    javaScriptEnabled: false,
    storageState: await page.context().storageState(),
  });
  try {
    const bare = await noScript.newPage();
    await bare.goto("/account");
    const sent: string[] = [];
    bare.on("request", (request) => {
      if (request.isNavigationRequest()) sent.push(`${request.method()} ${request.url()}`);
    });
    await bare.getByLabel("Current password").fill("not-the-password-1");
    await bare.getByLabel(/^New password/).fill("in-the-url-if-got");
    await bare.getByLabel("Confirm new password").fill("in-the-url-if-got");
    // The button waits for the script; Return in a field (implicit submission) does not go around it.
    await expect(bare.getByRole("button", { name: "Change password" })).toBeDisabled();
    await bare.getByLabel("Confirm new password").press("Enter");
    await bare.waitForTimeout(500);
    expect(sent).toEqual([]);
    expect(bare.url()).not.toContain("in-the-url");
    await expect(bare.getByLabel("Confirm new password")).toHaveValue("in-the-url-if-got");
  } finally {
    await noScript.close();
  }
  // With its script, the same button works.
  await page.goto("/account");
  await expect(page.getByRole("button", { name: "Change password" })).toBeEnabled();
});

test("two-factor sign-in: enrol on the Account page, sign in with a code, then with a recovery code", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await signInAsAdmin(page);
  const grace = {
    name: "Grace Admin",
    email: `grace-${Date.now()}@acme.example`,
    password: "grace-one-time-pw",
  };
  await addTechnician(page, grace, "admin");
  await signOut(page);
  await signInAsNewUser(page, grace);

  await page.goto("/account");
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
  const secret = (await page.getByTestId("totp-secret").textContent())!.trim();
  await page.getByLabel("Code from the app").fill(codeFor(secret));
  await page.getByRole("button", { name: "Turn on" }).click();
  const codes = page.getByTestId("recovery-codes").getByRole("listitem");
  await expect(codes).toHaveCount(10);
  const recovery = (await codes.first().textContent())!.trim();
  await expect(page.getByText(/since/)).toBeVisible();
  await signOut(page);

  // The password alone is no longer enough.
  await signIn(page, grace.password, grace.email);
  await expect(page).toHaveURL(/\/login\/code$/);
  await page.getByLabel("Code").fill("000000");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("not right, or it was used already");
  // The next step's code (the enrolment used this one), as a phone a little ahead shows it.
  const code = codeFor(secret, Date.now() + 30_000);
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/agents$/);
  await signOut(page);

  // The same code again is refused; a recovery code works, once.
  await signIn(page, grace.password, grace.email);
  await page.getByLabel("Code").fill(code);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page.getByRole("alert")).toContainText("used already");
  await page.getByLabel("Code").fill(recovery);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/agents$/);
  await page.goto("/account");
  await expect(page.getByText("9 recovery codes left")).toBeVisible();

  // The refusals are in the audit log's security view.
  await page.goto("/audit?show=security");
  await expect(page.getByText("Sign-in failed").first()).toBeVisible();
  await expect(page.getByText("Recovery code used")).toHaveCount(0);
  await page.goto("/audit?show=accounts");
  await expect(page.getByText("Recovery code used").first()).toBeVisible();
  await expect(page.getByText("Two-factor sign-in turned on").first()).toBeVisible();
});

test("an admin makes a technician an administrator and back; each applies at the person's next page", async ({
  page,
  browser,
  baseURL,
}) => {
  await signInAsAdmin(page);
  const rita = { name: "Rita Role", email: `rita-${Date.now()}@acme.example`, password: "rita-one-time-pw" };
  await addTechnician(page, rita);
  const other = await browser.newContext({ baseURL });
  try {
    const her = await other.newPage();
    await signInAsNewUser(her, rita);
    await expect(her.getByRole("link", { name: "Users" })).toHaveCount(0);
    expect((await her.request.get("/users")).status()).toBe(403);

    // Thinking twice changes nothing.
    const role = page.getByLabel(`${rita.name}'s role`);
    page.once("dialog", (dialog) => void dialog.dismiss());
    await role.selectOption("admin");
    await expect(role).toHaveValue("technician");

    page.once("dialog", (dialog) => {
      expect(dialog.message()).toContain(`Make ${rita.name} an administrator?`);
      void dialog.accept();
    });
    await role.selectOption("admin");
    await expect(role).toHaveValue("admin");
    await page.reload();
    await expect(page.getByLabel(`${rita.name}'s role`)).toHaveValue("admin");
    // Her session is the same one: the next page she loads is an administrator's.
    await her.goto("/users");
    await expect(her.getByRole("heading", { name: "Users" })).toBeVisible();
    // Her own role is not hers to change.
    await expect(her.getByLabel(`${rita.name}'s role`)).toHaveCount(0);

    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByLabel(`${rita.name}'s role`).selectOption("technician");
    await expect(page.getByLabel(`${rita.name}'s role`)).toHaveValue("technician");
    expect((await her.request.get("/users")).status()).toBe(403);

    // The audit log says who changed what, by name, among the account changes.
    await page.goto("/audit?show=accounts");
    const changed = page.getByRole("listitem").filter({ hasText: "User's role changed" }).first();
    await expect(changed).toContainText(`by ${admin.name}`);
    await expect(changed).toContainText(rita.email);
  } finally {
    await other.close();
  }
});

test("a workspace that requires two-factor sends everyone it covers to set it up before anything else", async ({
  page,
}) => {
  test.setTimeout(120_000);
  await signInAsAdmin(page);
  const tess = { name: "Tess Tech", email: `tess-${Date.now()}@acme.example`, password: "tess-one-time-pw" };
  await addTechnician(page, tess);
  await page.getByLabel("Two-factor sign-in required for").selectOption("everyone");
  await page.getByRole("button", { name: "Save policy" }).click();
  let adminKey: string | null = null;
  try {
    // The admin is covered too: off to the Account page, and nowhere else, until it is set up.
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByText("Your workspace requires two-factor sign-in")).toBeVisible();
    adminKey = await enrol(page);
    await page.goto("/agents");
    await expect(page).toHaveURL(/\/agents$/);
    await signOut(page);

    // A technician: her own password first, then still no way past the Account page.
    await signIn(page, tess.password, tess.email);
    await expect(page).toHaveURL(/\/account$/);
    await page.getByLabel("Current password").fill(tess.password);
    await page.getByLabel(/^New password/).fill("tess-own-password");
    await page.getByLabel("Confirm new password").fill("tess-own-password");
    await page.getByRole("button", { name: "Change password" }).click();
    await expect(page.getByText("Password changed")).toBeVisible();
    await page.goto("/agents");
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByText("Your workspace requires two-factor sign-in")).toBeVisible();
    const refused = await page.request.get("/api/trpc/agents.list?input=%7B%22json%22%3A%7B%7D%7D");
    expect(refused.status()).toBe(403);
    expect(await refused.text()).toContain("requires two-factor sign-in");
  } finally {
    // Back to how the other suites expect the admin: password only, no policy.
    await page.context().clearCookies();
    await signIn(page);
    if (adminKey) {
      await expect(page).toHaveURL(/\/login\/code$/);
      await page.getByLabel("Code").fill(codeFor(adminKey, Date.now() + 30_000));
      await page.getByRole("button", { name: "Sign in", exact: true }).click();
      await expect(page).toHaveURL(/\/agents$/);
    } else {
      await expect(page).toHaveURL(/\/account$/);
      await enrol(page);
    }
    await page.goto("/users");
    await page.getByLabel("Two-factor sign-in required for").selectOption("off");
    await page.getByRole("button", { name: "Save policy" }).click();
    await expect(page.getByText("Saved.")).toBeVisible();
    await page.goto("/account");
    await page.getByLabel(/to change these settings/).fill("a-long-admin-password");
    await page.getByRole("button", { name: "Turn off two-factor sign-in" }).click();
    await expect(page.getByRole("button", { name: "Set up two-factor sign-in" })).toBeVisible();
  }
});

/** Sets up two-factor sign-in on the Account page; returns the key the "app" holds. */
async function enrol(page: Page): Promise<string> {
  await page.goto("/account");
  await page.getByRole("button", { name: "Set up two-factor sign-in" }).click();
  const key = (await page.getByTestId("totp-secret").textContent())!.trim();
  await page.getByLabel("Code from the app").fill(codeFor(key));
  await page.getByRole("button", { name: "Turn on" }).click();
  await expect(page.getByTestId("recovery-codes")).toBeVisible();
  return key;
}
