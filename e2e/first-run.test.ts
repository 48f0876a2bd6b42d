/**
 * A newcomer's first minutes, in real Chromium against the built dashboard on a fresh database:
 * first-run setup → agents page empty state → enrollment code → sign out → sign in again.
 * Tests run in order and share one server; later ones rely on the admin created by the first.
 */
import { expect, test } from "./fixtures.ts";
import { admin, setupTokenOf, signIn } from "./helpers.ts";

test.describe.configure({ mode: "serial" });

test("first run: setup creates the admin and lands on an empty agents page", async ({ page }) => {
  await page.goto("/");
  await expect(page).toHaveURL(/\/setup$/);
  await expect(page.getByRole("heading", { name: "Welcome" })).toBeVisible();

  // Without the setup token from the server's console, whoever gets here first is refused.
  await page.getByLabel("Setup token").fill("AAAA-BBBB-CCCC-DDDD");
  await page.getByLabel("Workspace name").fill(admin.workspace);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel(/^Password/).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: /Create workspace/ }).click();
  await expect(page.getByRole("alert")).toContainText("not the setup token");
  await page.goto("/");
  await expect(page).toHaveURL(/\/setup$/);

  // A mismatched confirmation is refused with a message, and nothing is created.
  await page.getByLabel("Setup token").fill(setupTokenOf());
  await page.getByLabel("Workspace name").fill(admin.workspace);
  await page.getByLabel("Your name").fill(admin.name);
  await page.getByLabel("Email").fill(admin.email);
  await page.getByLabel(/^Password/).fill(admin.password);
  await page.getByLabel("Confirm password").fill("something-else-entirely");
  await page.getByRole("button", { name: /Create workspace/ }).click();
  await expect(page.getByRole("alert")).toContainText("The two passwords do not match");

  await page.getByLabel(/^Password/).fill(admin.password);
  await page.getByLabel("Confirm password").fill(admin.password);
  await page.getByRole("button", { name: /Create workspace/ }).click();

  await expect(page).toHaveURL(/\/agents$/);
  await expect(page.getByRole("heading", { name: "No agents yet" })).toBeVisible();
  await expect(page.getByText("npm run agent -- enroll", { exact: false }).first()).toBeVisible();
  await expect(page.getByText(admin.name)).toBeVisible();

  // Setup is a one-time page now.
  await page.goto("/setup");
  await expect(page).toHaveURL(/\/agents$/);
});

test("an admin creates an enrollment code and signs out", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/agents$/);

  await page.getByRole("button", { name: "Create enrollment code" }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toBeVisible();
  await dialog.getByLabel(/Label/).fill("Front desk PC");
  await dialog.getByRole("button", { name: "Create code" }).click();
  const code = dialog.getByTestId("enrollment-code");
  await expect(code).toHaveText(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  await expect(dialog).toContainText(`--code ${(await code.textContent())!.trim()}`);
  await dialog.getByRole("button", { name: "Done" }).click();

  // The code's creation is in the audit log.
  await page.getByRole("link", { name: "Audit log" }).click();
  await expect(page.getByText("Enrollment code created").first()).toBeVisible();
  await page.getByRole("button", { name: "Verify chain" }).click();
  await expect(page.getByText(/Chain intact/)).toBeVisible();

  await page.getByRole("button", { name: "Sign out" }).click();
  await expect(page).toHaveURL(/\/login$/);
  await page.goto("/agents");
  await expect(page).toHaveURL(/\/login\?next=%2Fagents$/);
});

test("a wrong password is refused with a message; the right one signs in", async ({ page }) => {
  await signIn(page, "not-the-password");
  await expect(page.getByRole("alert")).toHaveText("Wrong email or password.");
  await expect(page).toHaveURL(/\/login/);
  await signIn(page);
  await expect(page).toHaveURL(/\/agents$/);
});

test("a mutation without the CSRF token is refused, with it accepted", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/agents$/);
  const body = { json: { expiresInMinutes: 15 } };
  const refused = await page.request.post("/api/trpc/agents.createEnrollmentCode", { data: body });
  expect(refused.status()).toBe(403);
  expect(await refused.text()).toContain("Missing or invalid CSRF token");

  const csrf = (await page.context().cookies()).find((c) => c.name === "rd_csrf")!.value;
  const accepted = await page.request.post("/api/trpc/agents.createEnrollmentCode", {
    data: body,
    headers: { "x-csrf-token": csrf },
  });
  expect(accepted.status()).toBe(200);
});

test("the session cookie is HttpOnly and SameSite=Lax; /healthz reports the database", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/agents$/);
  const session = (await page.context().cookies()).find((c) => c.name === "rd_session");
  expect(session).toMatchObject({ httpOnly: true, sameSite: "Lax" });
  const health = await page.request.get("/healthz");
  expect(health.status()).toBe(200);
  expect(await health.json()).toMatchObject({ status: "ok", database: { kind: "pglite", ok: true } });
});

test("a malformed or unknown id shows a friendly not-found page", async ({ page }) => {
  await signIn(page);
  await expect(page).toHaveURL(/\/agents$/);
  const malformed = await page.goto("/agents/not-an-id");
  expect(malformed?.status()).toBe(404);
  await expect(page.getByText("This page does not exist.")).toBeVisible();
  const unknown = await page.goto("/sessions/00000000-0000-4000-8000-000000000000");
  expect(unknown?.status()).toBe(404);
  await expect(page.getByText("Session was not found. It may have been removed.")).toBeVisible();
  // The live page asks the API itself (a universal load): the same page, from the server's render…
  const live = await page.goto("/sessions/00000000-0000-4000-8000-000000000000/live");
  expect(live?.status()).toBe(404);
  await expect(page.getByText("Session was not found. It may have been removed.")).toBeVisible();
  // …and from the browser's, on a navigation within the dashboard.
  await page.goto("/agents");
  await page.evaluate(() => {
    const link = document.createElement("a");
    link.href = "/sessions/00000000-0000-4000-8000-000000000001/live";
    link.textContent = "unknown live session";
    document.body.append(link);
  });
  await page.getByText("unknown live session").click();
  await expect(page.getByText("Session was not found. It may have been removed.")).toBeVisible();
  // An address that is not even valid UTF-8 is the link's fault, not the server's; a candidate's
  // link (/d/…) is not sent to the dashboard, which is not theirs.
  const garbled = await page.goto("/d/%00%ff");
  expect(garbled?.status()).toBe(400);
  await expect(page.getByText("This address is not valid: check that you copied all of it.")).toBeVisible();
  await expect(page.getByRole("link", { name: "Back to agents" })).toHaveCount(0);
  await page.goto("/agents/%ff");
  await expect(page.getByRole("link", { name: "Back to agents" })).toBeVisible();
});
