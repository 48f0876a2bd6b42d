/** Shared steps of the browser tests. */
import { readFileSync } from "node:fs";
import path from "node:path";
import { expect, type Page } from "@playwright/test";

export const admin = {
  workspace: "Acme IT",
  name: "Ada Admin",
  email: "ada@acme.example",
  password: "a-long-admin-password",
};

/** Signs in on the login page (as the admin unless told otherwise); does not wait for the outcome. */
export async function signIn(page: Page, password = admin.password, email = admin.email) {
  await page.goto("/login");
  await page.getByLabel("Email", { exact: true }).fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/**
 * Signs in as someone an admin added: their password is one-time, so the dashboard sends them to
 * their Account page to choose their own first. `who.password` holds the chosen one afterwards.
 */
export async function signInAsNewUser(page: Page, who: { email: string; password: string }) {
  await signIn(page, who.password, who.email);
  await expect(page).toHaveURL(/\/account$/);
  const chosen = `${who.password}-own`;
  await page.getByLabel("Current password").fill(who.password);
  await page.getByLabel(/^New password/).fill(chosen);
  await page.getByLabel("Confirm new password").fill(chosen);
  await page.getByRole("button", { name: "Change password" }).click();
  await expect(page.getByText("Password changed")).toBeVisible();
  who.password = chosen;
  await page.goto("/agents");
  await expect(page).toHaveURL(/\/agents$/);
}

/** The first-run setup token a fresh server wrote to its data directory (and printed). */
export function setupTokenOf(dataDir = process.env.E2E_DATA_DIR): string {
  if (!dataDir) throw new Error("no data directory to read the setup token from");
  return readFileSync(path.join(dataDir, "setup-token"), "utf8").trim();
}

/** Adds a technician (or an admin) with a one-time password through the Users page (as an admin). */
export async function addTechnician(
  page: Page,
  who: { name: string; email: string; password: string },
  role: "technician" | "admin" = "technician",
) {
  await page.goto("/users");
  // The form's own fields: the table has a role select per user too.
  const form = page.getByRole("region", { name: "Add user" });
  await form.getByLabel("Name", { exact: true }).fill(who.name);
  await form.getByLabel("Email", { exact: true }).fill(who.email);
  await form.getByLabel(/^Role/).selectOption(role);
  await form.getByLabel(/^Password/).fill(who.password);
  await form.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("row", { name: new RegExp(who.email) })).toBeVisible();
}

/** Fills in the first-run setup page for `admin` (with the server's setup token) and submits it. */
export async function completeSetup(page: Page, token = setupTokenOf()) {
  await page.getByLabel("Setup token").fill(token);
  await page.getByLabel("Workspace name").fill(admin.workspace);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel(/^Password/).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: /Create workspace/ }).click();
}

/** Signs in as the admin, creating the workspace first if this server (data in `dataDir`) is fresh. */
export async function signInAsAdmin(page: Page, dataDir?: string) {
  await page.goto("/");
  if (page.url().endsWith("/setup")) {
    await completeSetup(page, setupTokenOf(dataDir));
  } else {
    await signIn(page);
  }
  await expect(page).toHaveURL(/\/agents$/);
}

/** Creates an enrollment code through the dashboard's dialog and returns it. */
export async function createEnrollmentCode(page: Page): Promise<string> {
  await page.goto("/agents");
  await page.getByRole("button", { name: "Create enrollment code" }).click();
  const dialog = page.getByRole("dialog");
  await dialog.getByRole("button", { name: "Create code" }).click();
  const code = (await dialog.getByTestId("enrollment-code").textContent())!.trim();
  await dialog.getByRole("button", { name: "Done" }).click();
  return code;
}
