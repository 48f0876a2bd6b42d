/**
 * The password lifecycle and two-factor sign-in, through the real procedures and the real sign-in
 * functions on both databases: a one-time password that must be changed, a change that ends the
 * other sessions, an admin reset, TOTP enrolment, sign-in with a code and a recovery code (each
 * good once), and a workspace policy that requires it.
 */
import { authUserOf, createSignInLimits, signIn, verifySecondFactor, type AuthUser } from "@rd/auth";
import { type DbHandle, SessionEvents, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { totpCodeAt as codeFor } from "@rd/auth/testing/totp-code";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createCaller } from "../root.ts";
import { createFixture, type Fixture } from "../test-fixture.ts";

describe.each(testDatabases())("account and two-factor sign-in on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
  });
  afterAll(() => handle?.close());

  /** A caller for `user` as the dashboard makes one: through the session cookie's validation. */
  async function signedIn(userId: string) {
    const { token } = await f.auth.createSession(userId);
    const { user, sessionId } = await f.auth.validate(token);
    const caller = createCaller({
      db: f.db,
      auth: f.auth,
      user,
      sessionId,
      ticketKey: f.ticketKey,
      secretBox: f.secretBox,
    });
    return { caller, token, user: user!, sessionId };
  }

  async function newUser(email: string, role: "technician" | "admin" = "technician") {
    const { user, temporaryPassword } = await f.a.asAdmin.users.create({ email, name: email, role });
    return { id: user.id, email: user.email, password: temporaryPassword! };
  }

  it("makes an admin-issued password one-time: only the account page works until it is changed", async () => {
    const u = await newUser("first@alpha.example");
    const limits = createSignInLimits();
    const result = await signIn(f.db, limits, { email: u.email, password: u.password, ip: "10.1.1.1" });
    expect(result).toMatchObject({ ok: true, mustChangePassword: true });
    const { caller, user } = await signedIn(u.id);
    expect(user.gate).toBe("change_password");
    await expect(caller.agents.list({})).rejects.toMatchObject({
      code: "FORBIDDEN",
      message: expect.stringMatching(/Choose your own password first/),
    });
    await expect(
      caller.account.changePassword({ current: "wrong-password", next: "my-own-password" }),
    ).rejects.toMatchObject({
      message: "Your current password is not right.",
    });
    await caller.account.changePassword({ current: u.password, next: "my-own-password" });
    const after = await signedIn(u.id);
    expect(after.user.gate).toBeNull();
    expect((await after.caller.agents.list({})).items).toBeInstanceOf(Array);
  });

  it("ends the user's other sessions when the password changes, and keeps the one it was changed on", async () => {
    const u = await newUser("changer@alpha.example");
    const elsewhere = await signedIn(u.id);
    const here = await signedIn(u.id);
    await here.caller.account.changePassword({ current: u.password, next: "changed-password-1" });
    expect((await f.auth.validate(elsewhere.token)).user).toBeNull();
    expect((await f.auth.validate(here.token)).user).not.toBeNull();
    const events = await f.db.select().from(SessionEvents).where(eq(SessionEvents.type, "password_changed"));
    expect(events.some((e) => e.data.userId === u.id)).toBe(true);
  });

  it("lets an admin reset a password: a new one-time password, signed out everywhere", async () => {
    const u = await newUser("forgetful@alpha.example");
    const before = await signedIn(u.id);
    const { temporaryPassword } = await f.a.asAdmin.users.resetPassword({ id: u.id });
    expect((await f.auth.validate(before.token)).user).toBeNull();
    const result = await signIn(f.db, createSignInLimits(), {
      email: u.email,
      password: temporaryPassword,
      ip: "10.1.1.2",
    });
    expect(result).toMatchObject({ ok: true, mustChangePassword: true });
    // Another tenant's admin cannot reset this user.
    await expect(f.b.asAdmin.users.resetPassword({ id: u.id })).rejects.toMatchObject({ code: "NOT_FOUND" });
    await expect(f.a.asTech.users.resetPassword({ id: u.id })).rejects.toMatchObject({ code: "FORBIDDEN" });
  });

  it("enrols TOTP, then signs in with a code once, and with each recovery code once", async () => {
    const u = await newUser("careful@alpha.example");
    const limits = createSignInLimits();
    let { caller } = await signedIn(u.id);
    await caller.account.changePassword({ current: u.password, next: "careful-password-1" });
    ({ caller } = await signedIn(u.id));

    const { secret, qrSvg, uri } = await caller.account.twoFactor.begin();
    expect(qrSvg).toMatch(/^<svg/);
    expect(uri).toContain(`secret=${secret}`);
    // At rest the secret is sealed, never the key itself.
    const [row] = await f.db.select({ sealed: Users.totpSecret }).from(Users).where(eq(Users.id, u.id));
    expect(row!.sealed).toMatch(/^v1\./);
    expect(row!.sealed).not.toContain(secret);

    await expect(caller.account.twoFactor.confirm({ code: "000000" })).rejects.toMatchObject({
      code: "BAD_REQUEST",
    });
    // The code of the previous 30 s step: accepted for clock skew, and claimed.
    const enrolCode = codeFor(secret, Date.now() - 30_000);
    const { recoveryCodes } = await caller.account.twoFactor.confirm({ code: enrolCode });
    expect(recoveryCodes).toHaveLength(10);

    const password = await signIn(f.db, limits, {
      email: u.email,
      password: "careful-password-1",
      ip: "10.2.2.2",
    });
    expect(password).toMatchObject({ ok: true, secondFactor: true });

    const second = (code: string) =>
      verifySecondFactor(f.db, f.secretBox, limits, { userId: u.id, code, ip: "10.2.2.2" });
    expect(await second(enrolCode)).toMatchObject({ ok: false, reason: "invalid" }); // used at enrolment
    const now = codeFor(secret);
    expect(await second(now)).toEqual({ ok: true, usedRecoveryCode: false });
    expect(await second(now)).toMatchObject({ ok: false, reason: "invalid" }); // a code is good once
    expect(await second(recoveryCodes[0]!.toUpperCase())).toEqual({ ok: true, usedRecoveryCode: true });
    expect(await second(recoveryCodes[0]!)).toMatchObject({ ok: false });
    expect((await caller.account.me()).recoveryCodesLeft).toBe(9);
    const used = await f.db.select().from(SessionEvents).where(eq(SessionEvents.type, "recovery_code_used"));
    expect(used.some((e) => e.data.userId === u.id)).toBe(true);
  });

  it("throttles wrong second-factor codes per user", async () => {
    const u = await newUser("guessed@alpha.example");
    let { caller } = await signedIn(u.id);
    await caller.account.changePassword({ current: u.password, next: "guessed-password-1" });
    ({ caller } = await signedIn(u.id));
    const { secret } = await caller.account.twoFactor.begin();
    await caller.account.twoFactor.confirm({ code: codeFor(secret) });
    const limits = createSignInLimits();
    const guesses = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        verifySecondFactor(f.db, f.secretBox, limits, {
          userId: u.id,
          code: String(100000 + i),
          ip: "10.3.3.3",
        }),
      ),
    );
    expect(guesses.filter((g) => !g.ok && g.reason === "rate_limited")).toHaveLength(8);
  });

  it("makes a workspace policy gate users without a second factor, and refuses turning it off", async () => {
    const u = await newUser("policy@alpha.example", "admin");
    let { caller } = await signedIn(u.id);
    await caller.account.changePassword({ current: u.password, next: "policy-password-1" });
    await f.a.asAdmin.users.setTwoFactorPolicy({ policy: "admins" });
    try {
      let user: AuthUser;
      ({ caller, user } = await signedIn(u.id));
      expect(user.gate).toBe("enrol_two_factor");
      await expect(caller.sessions.list({})).rejects.toMatchObject({ code: "FORBIDDEN" });
      // A technician is not covered by "admins".
      expect((await signedIn(f.a.tech.id)).user.gate).toBeNull();
      const { secret } = await caller.account.twoFactor.begin();
      await caller.account.twoFactor.confirm({ code: codeFor(secret) });
      ({ caller, user } = await signedIn(u.id));
      expect(user.gate).toBeNull();
      await expect(caller.account.twoFactor.disable({ password: "policy-password-1" })).rejects.toMatchObject(
        {
          code: "FORBIDDEN",
        },
      );
      // An admin can reset it for someone who lost their phone; the gate comes back.
      await f.a.asAdmin.users.resetTwoFactor({ id: u.id });
      expect((await signedIn(u.id)).user.gate).toBe("enrol_two_factor");
    } finally {
      await f.a.asAdmin.users.setTwoFactorPolicy({ policy: "off" });
    }
    expect(authUserOf({ ...f.a.tech, mustChangePassword: true }).gate).toBe("change_password");
  });
});
