/**
 * Live presence, end to end: an agent enrolls through the real endpoint with a code made in the
 * dashboard, connects to the signaling worker that `npm start` runs beside the dashboard, and the
 * agents page shows it online, then offline after it leaves. The agent here is a protocol-level
 * simulator (the real agent is apps/agent); worker, database and browser are real.
 */
import { expect, test } from "./fixtures.ts";
import WebSocket from "ws";
import { createEnrollmentCode, signInAsAdmin } from "./helpers.ts";

test("an enrolled agent shows up online while connected and offline after it leaves", async ({
  page,
  request,
}) => {
  test.setTimeout(90_000);
  await signInAsAdmin(page);
  const code = await createEnrollmentCode(page);

  const enrolled = await request.post("/api/agents/enroll", {
    data: { code, name: "Reception PC", hostname: "reception.lan", os: "linux", version: "sim" },
  });
  expect(enrolled.status()).toBe(201);
  const { agentId, secret, signalUrl } = (await enrolled.json()) as {
    agentId: string;
    secret: string;
    signalUrl: string;
  };
  expect(signalUrl).toMatch(/^ws:\/\/127\.0\.0\.1:\d+\/ws$/);

  // The code worked once; a second use and a bad body are refused with readable messages.
  const reused = await request.post("/api/agents/enroll", {
    data: { code, name: "x", hostname: "x", os: "linux", version: "sim" },
  });
  expect(reused.status()).toBe(400);
  expect((await reused.json()).error.message).toMatch(/not valid/);
  const malformed = await request.post("/api/agents/enroll", { data: { code: 42 } });
  expect((await malformed.json()).error.message).toMatch(/^Invalid enrollment request — code:/);

  const socket = new WebSocket(signalUrl);
  await new Promise((resolve, reject) => socket.once("open", resolve).once("error", reject));
  const welcome = new Promise<unknown>((resolve) =>
    socket.once("message", (data) => resolve(JSON.parse(String(data)))),
  );
  socket.send(JSON.stringify({ type: "presence/hello", v: 1, auth: { kind: "agent", agentId, secret } }));
  expect(await welcome).toMatchObject({ type: "presence/welcome", role: "agent" });

  await page.goto("/agents");
  const row = page.getByRole("row", { name: /Reception PC/ });
  await expect(row).toContainText("Online:", { timeout: 15_000 });

  socket.close();
  // Offline after the worker's grace period, then the page's next refresh.
  await expect(row).toContainText("Offline:", { timeout: 30_000 });

  await page.goto(`/agents/${agentId}`);
  await expect(page.getByText("Agent came online").first()).toBeVisible();
  await expect(page.getByText("Agent went offline").first()).toBeVisible();
});
