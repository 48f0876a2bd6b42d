/**
 * Single sign-on as an admin and a person meet it, in Chromium: a real OpenID provider (the npm
 * `oidc-provider`, started here on 127.0.0.1) is set up on the Users page; someone new from the
 * allowed domain signs in through it and lands on Agents as a technician; requiring it refuses a
 * technician's password; a callback that was tampered with, or used twice, is refused.
 */
import { startTestOidcProvider } from "@rd/auth/testing/oidc-provider";
import { expect, test } from "./fixtures.ts";
import { addTechnician, signIn, signInAsAdmin } from "./helpers.ts";

test.describe.configure({ mode: "serial" });

const port = Number(process.env.E2E_PORT ?? 3100);
const REDIRECT_URI = `http://127.0.0.1:${port}/login/sso/callback`;
const CLIENT = {
  id: "remote-desk",
  secret: "remote-desk-client-secret-for-e2e",
  redirectUris: [REDIRECT_URI],
};

let provider: Awaited<ReturnType<typeof startTestOidcProvider>>;

test.beforeAll(async () => {
  provider = await startTestOidcProvider({
    clients: [CLIENT],
    accounts: {
      sam: { email: "sam@sso.example", email_verified: true, name: "Sam Single" },
      una: { email: "una@sso.example", email_verified: false, name: "Una Unverified" },
    },
  });
});
test.afterAll(async () => {
  await provider?.close();
});

test("an admin sets up single sign-on; someone new from the domain signs in through it", async ({
  page,
  browser,
}) => {
  await signInAsAdmin(page);
  await page.goto("/users");
  await expect(page.getByTestId("sso-redirect-uri")).toHaveText(REDIRECT_URI);
  await page.getByLabel("Issuer URL").fill(provider.issuer);
  await page.getByLabel("Client ID").fill(CLIENT.id);
  await page.getByLabel(/^Client secret/).fill(CLIENT.secret);
  await page.getByLabel(/^Email domains/).fill("sso.example");
  await page.getByRole("button", { name: "Save single sign-on" }).click();
  await expect(page.getByText("Saved. The provider answered.")).toBeVisible();

  const context = await browser.newContext();
  const sam = await context.newPage();
  await sam.goto(`http://127.0.0.1:${port}/login`);
  await sam.getByLabel("Work email").fill("sam@sso.example");
  await sam.getByRole("button", { name: "Sign in with single sign-on" }).click();
  // At the provider: its own sign-in page.
  await expect(sam).toHaveURL(new RegExp(`^${provider.issuer}/interaction/`));
  await sam.getByLabel("Account").fill("sam");
  await sam.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(sam).toHaveURL(/\/agents$/);
  await expect(sam.getByText("Sam Single")).toBeVisible();
  await context.close();

  await page.goto("/users");
  const row = page.getByRole("row", { name: /sam@sso\.example/ });
  await expect(row).toContainText("Technician");
});

test("an unverified email is refused, and so is a callback used twice or altered", async ({ browser }) => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const start = async (account: string) => {
    await page.goto(`http://127.0.0.1:${port}/login`);
    await page.getByLabel("Work email").fill(`${account}@sso.example`);
    await page.getByRole("button", { name: "Sign in with single sign-on" }).click();
    await page.getByLabel("Account").fill(account);
  };

  await start("una");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expect(page).toHaveURL(/\/login\?sso_error=/);
  await expect(page.getByRole("alert")).toContainText("has not verified your email address");

  // Catch the provider's redirect back to us, then use it twice.
  await start("sam");
  const callback = page.waitForRequest((r) => r.url().startsWith(REDIRECT_URI));
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  const first = (await callback).url();
  await expect(page).toHaveURL(/\/agents$/);
  await context.clearCookies();
  await page.goto(first);
  await expect(page).toHaveURL(/\/login\?sso_error=/);
  await expect(page.getByRole("alert")).toContainText("expired or was already used");

  // A sign-in under way, and a callback whose state is not its own (a forged or swapped link).
  await context.clearCookies();
  await start("sam");
  await page.goto(`${REDIRECT_URI}?code=stolen-code&state=forged-state`);
  await expect(page).toHaveURL(/\/login\?sso_error=/);
  await expect(page.getByRole("alert")).toContainText(/does not belong|state/i);
  await context.close();
});

test("required single sign-on refuses a technician's password, not an admin's", async ({ page }) => {
  await signInAsAdmin(page);
  await page.goto("/users");
  await page.getByLabel(/Required for technicians/).check();
  await page.getByRole("button", { name: "Save single sign-on" }).click();
  await expect(page.getByText("Saved. The provider answered.")).toBeVisible();
  try {
    const tina = {
      name: "Tina Tech",
      email: `tina-${Date.now()}@acme.example`,
      password: "tina-one-time-pw",
    };
    await addTechnician(page, tina);
    await page.getByRole("button", { name: "Sign out" }).click();

    await signIn(page, tina.password, tina.email);
    await expect(page.getByRole("alert")).toContainText("Your workspace signs in with single sign-on");
    await signIn(page);
    await expect(page).toHaveURL(/\/agents$/);
  } finally {
    await page.goto("/users");
    page.once("dialog", (dialog) => void dialog.accept());
    await page.getByRole("button", { name: "Remove" }).click();
    await expect(page.getByText("Single sign-on removed.")).toBeVisible();
  }
});
