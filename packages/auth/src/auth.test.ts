import { AuthSessions, type DbHandle, Tenants, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttemptLimiter } from "./attempt-limiter.ts";
import { createAuth, type Auth } from "./lucia.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { sha256Hex } from "./secrets.ts";
import { createSignInLimits, signIn } from "./sign-in.ts";

describe("passwords", () => {
  it("hashes with argon2id and verifies only the right password", async () => {
    const hash = await hashPassword("correct horse battery");
    expect(hash).toMatch(/^\$argon2id\$/);
    expect(await verifyPassword(hash, "correct horse battery")).toBe(true);
    expect(await verifyPassword(hash, "correct horse batterY")).toBe(false);
    expect(await verifyPassword("not a hash", "anything")).toBe(false);
  });
});

describe("AttemptLimiter", () => {
  it("refuses after maxFailures inside the window and forgets them after it", () => {
    let now = 1_000_000;
    const limiter = new AttemptLimiter({ maxFailures: 3, windowMs: 60_000, now: () => now });
    for (let i = 0; i < 3; i++) {
      expect(limiter.retryAfterMs("k")).toBe(0);
      limiter.recordFailure("k");
    }
    expect(limiter.retryAfterMs("k")).toBe(60_000);
    expect(limiter.retryAfterMs("other")).toBe(0);
    now += 60_001;
    expect(limiter.retryAfterMs("k")).toBe(0);
  });

  it("keeps at most maxKeys keys", () => {
    const limiter = new AttemptLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 2 });
    limiter.recordFailure("a");
    limiter.recordFailure("b");
    limiter.recordFailure("c");
    expect(limiter.retryAfterMs("a")).toBe(0); // evicted, oldest first
    expect(limiter.retryAfterMs("c")).toBeGreaterThan(0);
  });
});

describe.each(testDatabases())("sign-in and sessions on $name", (backend) => {
  let handle: DbHandle;
  let auth: Auth;
  let userId: string;
  let disabledId: string;

  beforeAll(async () => {
    handle = await backend.create();
    auth = createAuth(handle.db, { secureCookies: false });
    const [tenant] = await handle.db.insert(Tenants).values({ name: "T" }).returning();
    const passwordHash = await hashPassword("a-good-password");
    const users = await handle.db
      .insert(Users)
      .values([
        { tenantId: tenant!.id, email: "tech@example.com", name: "Tech", role: "technician", passwordHash },
        {
          tenantId: tenant!.id,
          email: "gone@example.com",
          name: "Gone",
          role: "technician",
          passwordHash,
          disabledAt: new Date(),
        },
      ])
      .returning();
    userId = users[0]!.id;
    disabledId = users[1]!.id;
  });
  afterAll(() => handle?.close());

  const attempt = (
    limits: ReturnType<typeof createSignInLimits>,
    email: string,
    password: string,
    ip = "10.0.0.1",
  ) => signIn(handle.db, limits, { email, password, ip });

  it("signs in with the right password, whatever the email's case", async () => {
    const result = await attempt(createSignInLimits(), " Tech@Example.com ", "a-good-password");
    expect(result).toEqual({ ok: true, userId });
  });

  it("gives the same answer for a wrong password and an unknown user", async () => {
    const limits = createSignInLimits();
    const wrong = await attempt(limits, "tech@example.com", "wrong-password");
    const unknown = await attempt(limits, "nobody@example.com", "a-good-password");
    expect(wrong).toEqual({ ok: false, reason: "invalid", message: "Wrong email or password." });
    expect(unknown).toEqual(wrong);
  });

  it("tells a deactivated user why, but only with the right password", async () => {
    const limits = createSignInLimits();
    expect(await attempt(limits, "gone@example.com", "a-good-password")).toMatchObject({
      ok: false,
      reason: "disabled",
      message: expect.stringMatching(/deactivated/),
    });
    expect(await attempt(limits, "gone@example.com", "wrong-password")).toMatchObject({ reason: "invalid" });
  });

  it("rate-limits an account after 5 failures, even with the right password", async () => {
    const limits = createSignInLimits();
    for (let i = 0; i < 5; i++) await attempt(limits, "tech@example.com", `wrong-${i}`);
    const result = await attempt(limits, "tech@example.com", "a-good-password");
    expect(result).toMatchObject({
      ok: false,
      reason: "rate_limited",
      message: expect.stringMatching(/Try again in 15 minutes/),
    });
    // Another account from another address is unaffected.
    expect((await attempt(limits, "nobody@example.com", "x", "10.0.0.2")).ok).toBe(false);
  });

  it("rate-limits an IP that guesses across many accounts", async () => {
    const limits = createSignInLimits();
    for (let i = 0; i < 30; i++) await attempt(limits, `user${i}@example.com`, "guess", "10.9.9.9");
    expect(await attempt(limits, "tech@example.com", "a-good-password", "10.9.9.9")).toMatchObject({
      reason: "rate_limited",
    });
    expect(await attempt(limits, "tech@example.com", "a-good-password", "10.9.9.10")).toMatchObject({
      ok: true,
    });
  });

  it("stores only the token's hash and resolves the cookie to the user", async () => {
    const { token, cookie } = await auth.createSession(userId);
    expect(cookie.value).toBe(token);
    expect(cookie.serialize()).toMatch(/HttpOnly/);
    expect(cookie.serialize()).toMatch(/SameSite=Lax/);
    const rows = await handle.db.select().from(AuthSessions).where(eq(AuthSessions.userId, userId));
    expect(rows.map((r) => r.id)).toContain(sha256Hex(token));
    expect(rows.map((r) => r.id)).not.toContain(token);
    const result = await auth.validate(token);
    expect(result.user).toMatchObject({
      id: userId,
      email: "tech@example.com",
      role: "technician",
      disabled: false,
    });
    expect(result.refreshCookie).toBeUndefined();
  });

  it("marks cookies Secure when asked to", async () => {
    const secure = createAuth(handle.db, { secureCookies: true });
    expect((await secure.createSession(userId)).cookie.serialize()).toMatch(/Secure/);
  });

  it("refuses an expired session and says to clear the cookie", async () => {
    const { token } = await auth.createSession(userId);
    await handle.db
      .update(AuthSessions)
      .set({ expiresAt: new Date(Date.now() - 1000) })
      .where(eq(AuthSessions.id, sha256Hex(token)));
    const result = await auth.validate(token);
    expect(result.user).toBeNull();
    expect(result.clearCookie?.value).toBe("");
  });

  it("slides a session that is past half its life", async () => {
    const { token } = await auth.createSession(userId);
    const soon = new Date(Date.now() + 60 * 60_000);
    await handle.db
      .update(AuthSessions)
      .set({ expiresAt: soon })
      .where(eq(AuthSessions.id, sha256Hex(token)));
    const result = await auth.validate(token);
    expect(result.user?.id).toBe(userId);
    expect(result.refreshCookie?.value).toBe(token);
    const [row] = await handle.db
      .select()
      .from(AuthSessions)
      .where(eq(AuthSessions.id, sha256Hex(token)));
    expect(row!.expiresAt.getTime()).toBeGreaterThan(soon.getTime() + 24 * 60 * 60_000);
  });

  it("refuses unknown tokens and the sessions of a deactivated user", async () => {
    expect((await auth.validate("not-a-real-token")).user).toBeNull();
    expect((await auth.validate(undefined)).user).toBeNull();
    const { token } = await auth.createSession(disabledId);
    const result = await auth.validate(token);
    expect(result.user).toBeNull();
    expect(await handle.db.select().from(AuthSessions).where(eq(AuthSessions.userId, disabledId))).toEqual(
      [],
    );
  });
});
