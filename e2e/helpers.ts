/** Shared steps of the browser tests. */
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
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in" }).click();
}

/** Adds a technician with a password of their own through the Users page (as an admin). */
export async function addTechnician(page: Page, who: { name: string; email: string; password: string }) {
  await page.goto("/users");
  await page.getByLabel("Name").fill(who.name);
  await page.getByLabel("Email").fill(who.email);
  await page.getByLabel(/^Password/).fill(who.password);
  await page.getByRole("button", { name: "Add user" }).click();
  await expect(page.getByRole("row", { name: new RegExp(who.email) })).toBeVisible();
}

/** Fills in the first-run setup page for `admin` and submits it. */
export async function completeSetup(page: Page) {
  await page.getByLabel("Workspace name").fill(admin.workspace);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel(/^Password/).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: /Create workspace/ }).click();
}

/** Signs in as the admin, creating the workspace first if this server is fresh. */
export async function signInAsAdmin(page: Page) {
  await page.goto("/");
  if (page.url().endsWith("/setup")) {
    await completeSetup(page);
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
