import { AuthSessions, type DbHandle, SessionEvents, Tenants, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AttemptLimiter } from "./attempt-limiter.ts";
import { createAuth, type Auth } from "./lucia.ts";
import { hashPassword, verifyPassword } from "./password.ts";
import { sha256Hex } from "./secrets.ts";
import { clientKey } from "./client-key.ts";
import { ProgressiveThrottle } from "./progressive-throttle.ts";
import { createSignInLimits, type SecurityReport, signIn } from "./sign-in.ts";

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

describe("AttemptLimiter.tryConsume", () => {
  it("counts the attempt as it is allowed, and forgive takes it back", () => {
    const limiter = new AttemptLimiter({ maxFailures: 2, windowMs: 60_000 });
    expect(limiter.tryConsume("k")).toBe(0);
    expect(limiter.tryConsume("k")).toBe(0);
    expect(limiter.tryConsume("k")).toBeGreaterThan(0); // both counted before either finished
    limiter.forgive("k");
    expect(limiter.tryConsume("k")).toBe(0);
  });
});

describe("ProgressiveThrottle", () => {
  it("lets the free failures through, then doubles the delay up to the ceiling", () => {
    const throttle = new ProgressiveThrottle({
      freeFailures: 3,
      baseDelayMs: 1_000,
      maxDelayMs: 8_000,
      forgetAfterMs: 60_000,
    });
    expect([1, 2, 3, 4, 5, 6, 7, 8].map((n) => throttle.delayAfter(n))).toEqual([
      0, 0, 0, 1_000, 2_000, 4_000, 8_000, 8_000,
    ]);
  });

  it("reports a block once, and forgets a key that stayed quiet", () => {
    let now = 0;
    const throttle = new ProgressiveThrottle({
      freeFailures: 1,
      baseDelayMs: 1_000,
      maxDelayMs: 1_000,
      forgetAfterMs: 10_000,
      now: () => now,
    });
    expect(throttle.tryConsume("k").allowed).toBe(true);
    expect(throttle.tryConsume("k").allowed).toBe(true);
    expect(throttle.tryConsume("k")).toEqual({ allowed: false, retryAfterMs: 1_000, firstRefusal: true });
    expect(throttle.tryConsume("k")).toMatchObject({ allowed: false, firstRefusal: false });
    now += 20_000;
    expect(throttle.tryConsume("k").allowed).toBe(true);
    expect(throttle.tryConsume("k").allowed).toBe(true); // the free failure again: it started afresh
  });
});

describe("clientKey", () => {
  it("keys IPv4 by address and IPv6 by its /64", () => {
    expect(clientKey("10.1.2.3")).toBe("10.1.2.3");
    expect(clientKey("::ffff:10.1.2.3")).toBe("10.1.2.3");
    expect(clientKey("2001:db8:a:b:1:2:3:4")).toBe("2001:db8:a:b::/64");
    expect(clientKey("2001:db8:a:b::99")).toBe("2001:db8:a:b::/64");
    expect(clientKey("2001:0DB8:000a:b::1")).toBe("2001:db8:a:b::/64");
    expect(clientKey("::1")).toBe("0:0:0:0::/64");
    expect(clientKey("fe80::1%eth0")).toBe("fe80:0:0:0::/64");
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
    expect(result).toMatchObject({
      ok: true,
      userId,
      role: "technician",
      secondFactor: false,
      mustChangePassword: false,
    });
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

  it("counts parallel attempts as they start: 40 at once (39 wrong, 1 right) verify at most 4", async () => {
    const limits = createSignInLimits();
    const attempts = Array.from({ length: 40 }, (_, i) =>
      attempt(limits, "tech@example.com", i === 39 ? "a-good-password" : `wrong-${i}`, "10.4.4.4"),
    );
    const results = await Promise.all(attempts);
    // Three free tries plus the one that starts the first delay; the rest never reach argon2.
    expect(results.filter((r) => r.ok === false && r.reason === "invalid")).toHaveLength(4);
    expect(results.filter((r) => r.ok === false && r.reason === "rate_limited")).toHaveLength(36);
    expect(results.some((r) => r.ok)).toBe(false); // the right one came too late
  });

  it("slows a guesser progressively, but never locks the owner out from elsewhere", async () => {
    let now = 5_000_000;
    const limits = createSignInLimits(() => now);
    for (let i = 0; i < 4; i++) await attempt(limits, "tech@example.com", `wrong-${i}`, "10.5.5.5");
    const refused = await attempt(limits, "tech@example.com", "a-good-password", "10.5.5.5");
    expect(refused).toMatchObject({
      reason: "rate_limited",
      message: "Too many failed sign-in attempts. Try again in 2 seconds.",
    });
    // The owner, from their own address, signs in at once.
    expect(await attempt(limits, "tech@example.com", "a-good-password", "10.6.6.6")).toMatchObject({
      ok: true,
    });
    // The delay doubles with each further failure: 2 s, 4 s, 8 s…
    now += 2_001;
    await attempt(limits, "tech@example.com", "wrong-again", "10.5.5.5");
    expect(await attempt(limits, "tech@example.com", "x", "10.5.5.5")).toMatchObject({
      message: "Too many failed sign-in attempts. Try again in 4 seconds.",
    });
    now += 4_001;
    expect(await attempt(limits, "tech@example.com", "a-good-password", "10.5.5.5")).toMatchObject({
      ok: true,
    });
  });

  it("limits an address that guesses across many accounts, an IPv6 /64 as one address", async () => {
    const limits = createSignInLimits();
    for (let i = 0; i < 30; i++) {
      await attempt(limits, `user${i}@example.com`, "guess", `2001:db8:1:2::${i.toString(16)}`);
    }
    expect(
      await attempt(limits, "tech@example.com", "a-good-password", "2001:db8:1:2:ffff::1"),
    ).toMatchObject({
      reason: "rate_limited",
    });
    expect(await attempt(limits, "tech@example.com", "a-good-password", "2001:db8:1:3::1")).toMatchObject({
      ok: true,
    });
  });

  it("reports each failure and each trip without the password, and audits them for a real account", async () => {
    const limits = createSignInLimits();
    const reports: SecurityReport[] = [];
    for (let i = 0; i < 6; i++) {
      await signIn(
        handle.db,
        limits,
        { email: "tech@example.com", password: `bad-${i}`, ip: "10.7.7.7" },
        (r) => reports.push(r),
      );
    }
    await signIn(handle.db, limits, { email: "nobody@example.com", password: "bad", ip: "10.7.7.7" }, (r) =>
      reports.push(r),
    );
    expect(reports.map((r) => r.type)).toEqual([
      "auth_failed",
      "auth_failed",
      "auth_failed",
      "auth_failed",
      "auth_throttled", // once per block, not once per refused attempt
      "auth_failed",
    ]);
    expect(reports[0]).toEqual({
      type: "auth_failed",
      ip: "10.7.7.7",
      email: "tech@example.com",
      reason: "wrong password",
    });
    expect(reports[5]).toMatchObject({ email: "nobody@example.com", reason: "unknown account" });
    expect(JSON.stringify(reports)).not.toMatch(/bad-/);
    const events = await handle.db.select().from(SessionEvents).where(eq(SessionEvents.type, "auth_failed"));
    expect(events.filter((e) => e.data.ip === "10.7.7.7")).toHaveLength(4); // the unknown account has no tenant
    const throttled = await handle.db
      .select()
      .from(SessionEvents)
      .where(eq(SessionEvents.type, "auth_throttled"));
    expect(throttled.some((e) => e.data.userId === userId)).toBe(true);
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
