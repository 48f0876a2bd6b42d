/**
 * Single sign-on in the product, on both databases: a workspace's provider saved through the real
 * `sso` procedures, pointing at a real OpenID provider on 127.0.0.1, and sign-ins through it (the
 * library's start and finish, then userForSsoIdentity) that link, create or refuse users.
 */
import { finishOidcSignIn, startOidcSignIn } from "@rd/auth";
import {
  signInAtTestProvider,
  startTestOidcProvider,
  type TestOidcProvider,
} from "@rd/auth/testing/oidc-provider";
import { type DbHandle, SessionEvents, TenantSso, UserIdentities, Users } from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { and, eq } from "drizzle-orm";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createFixture, type Fixture } from "../test-fixture.ts";
import { ssoProviderForEmail, ssoProviderOf, ssoRequired, userForSsoIdentity } from "./sso.ts";

/** The dashboard's callback. Never fetched: the sign-in stops at the redirect to it. */
const REDIRECT_URI = "http://127.0.0.1:5173/login/sso/callback";
const CLIENT = {
  id: "remote-desk",
  secret: "remote-desk-client-secret-for-tests",
  redirectUris: [REDIRECT_URI],
};

/** People at the provider. The fixture's tenant a is Alpha, with tech@alpha.example among its users. */
const accounts: Record<string, Record<string, unknown>> = {
  newcomer: { email: "Newcomer@Alpha.example", email_verified: true, name: "New Comer" },
  "tech-at-idp": { email: "tech@alpha.example", email_verified: true, name: "Tech" },
  unverified: { email: "unverified@alpha.example", email_verified: false },
  outsider: { email: "outsider@elsewhere.example", email_verified: true },
  moved: { email: "moved@alpha.example", email_verified: true },
  gone: { email: "gone@alpha.example", email_verified: true },
  "leaves-later": { email: "leaves-later@alpha.example", email_verified: true },
};

/** A port where nothing listens: taken from a server that is closed again at once. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe.each(testDatabases())("single sign-on on $name", (backend) => {
  let handle: DbHandle;
  let f: Fixture;
  let idp: TestOidcProvider;

  beforeAll(async () => {
    handle = await backend.create();
    f = await createFixture(handle);
    idp = await startTestOidcProvider({ clients: [CLIENT], accounts });
    await f.a.asAdmin.sso.save({
      issuer: idp.issuer,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      allowedDomains: ["@Alpha.example"],
    });
    await f.b.asAdmin.sso.save({
      issuer: idp.issuer,
      clientId: CLIENT.id,
      clientSecret: CLIENT.secret,
      allowedDomains: ["beta.example"],
    });
  });
  afterAll(async () => {
    await idp?.close();
    await handle?.close();
  });

  /** The whole sign-in as the dashboard runs it for tenant a: provider, callback, user. */
  async function signInAs(account: string) {
    const provider = await ssoProviderOf(f.db, f.secretBox, f.a.id);
    if (!provider) throw new Error("tenant a has no provider");
    const settings = { ...provider.settings, redirectUri: REDIRECT_URI };
    const { url, pending } = await startOidcSignIn(settings);
    const identity = await finishOidcSignIn(settings, pending, await signInAtTestProvider(url, account));
    if (!identity.ok) throw new Error(identity.message);
    return userForSsoIdentity(f.db, provider, identity);
  }

  const userByEmail = async (email: string) =>
    (await f.db.select().from(Users).where(eq(Users.email, email)))[0];

  const identitiesOf = (userId: string) =>
    f.db.select().from(UserIdentities).where(eq(UserIdentities.userId, userId));

  describe("userForSsoIdentity", () => {
    it("creates someone new from an allowed domain with the default role, and links them", async () => {
      const result = await signInAs("newcomer");
      expect(result).toMatchObject({ ok: true, created: true });
      if (!result.ok) return;

      const user = await userByEmail("newcomer@alpha.example");
      expect(user).toMatchObject({
        id: result.userId,
        tenantId: f.a.id,
        role: "technician",
        name: "New Comer",
      });
      expect(await identitiesOf(result.userId)).toMatchObject([{ issuer: idp.issuer, subject: "newcomer" }]);
      const events = await f.db
        .select()
        .from(SessionEvents)
        .where(and(eq(SessionEvents.tenantId, f.a.id), eq(SessionEvents.type, "user_created")));
      const created = events.find((e) => e.data.userId === result.userId);
      expect(created).toMatchObject({
        actorType: "system",
        data: {
          email: "newcomer@alpha.example",
          role: "technician",
          via: "single sign-on",
          issuer: idp.issuer,
        },
      });
    });

    it("signs the same identity in again as the same user, without creating another", async () => {
      const first = await userByEmail("newcomer@alpha.example");
      expect(await signInAs("newcomer")).toEqual({ ok: true, userId: first!.id, created: false });
      expect(await identitiesOf(first!.id)).toHaveLength(1);
    });

    it("links an existing user of the workspace by their verified email", async () => {
      expect(await signInAs("tech-at-idp")).toEqual({ ok: true, userId: f.a.tech.id, created: false });
      expect(await identitiesOf(f.a.tech.id)).toMatchObject([{ issuer: idp.issuer, subject: "tech-at-idp" }]);
    });

    it("refuses an email the provider has not verified, and creates no one", async () => {
      expect(await signInAs("unverified")).toMatchObject({
        ok: false,
        reason: "email_not_verified",
        message: expect.stringMatching(/has not verified your email address/),
      });
      expect(await userByEmail("unverified@alpha.example")).toBeUndefined();
    });

    it("refuses an email of a domain the workspace does not allow", async () => {
      expect(await signInAs("outsider")).toMatchObject({ ok: false, reason: "domain_not_allowed" });
      expect(await userByEmail("outsider@elsewhere.example")).toBeUndefined();
    });

    it("refuses the email of another workspace's user, even in an allowed domain", async () => {
      await f.b.asAdmin.users.create({ email: "moved@alpha.example", name: "Moved" });
      expect(await signInAs("moved")).toMatchObject({ ok: false, reason: "another_workspace" });
      expect(await f.db.select().from(UserIdentities).where(eq(UserIdentities.subject, "moved"))).toEqual([]);
    });

    it("refuses a deactivated user found by email", async () => {
      const { user } = await f.a.asAdmin.users.create({ email: "gone@alpha.example", name: "Gone" });
      await f.a.asAdmin.users.setDisabled({ id: user.id, disabled: true });
      expect(await signInAs("gone")).toMatchObject({ ok: false, reason: "deactivated" });
      expect(await identitiesOf(user.id)).toEqual([]);
    });

    it("refuses a linked user once deactivated", async () => {
      const first = await signInAs("leaves-later");
      if (!first.ok) throw new Error(first.message);
      await f.a.asAdmin.users.setDisabled({ id: first.userId, disabled: true });
      expect(await signInAs("leaves-later")).toMatchObject({ ok: false, reason: "deactivated" });
    });
  });

  describe("a domain taken off the list", () => {
    it("stops people from it who had signed in before", async () => {
      const first = await signInAs("newcomer");
      expect(first.ok).toBe(true);
      const provider = (await ssoProviderForEmail(f.db, f.secretBox, "newcomer@alpha.example"))!;
      const narrowed = { ...provider, allowedDomains: ["elsewhere-only.example"] };
      const identity = {
        subject: "newcomer",
        email: "newcomer@alpha.example",
        emailVerified: true,
        name: null,
      };
      expect(await userForSsoIdentity(f.db, narrowed, identity)).toMatchObject({
        ok: false,
        reason: "domain_not_allowed",
      });
    });
  });

  describe("ssoProviderForEmail", () => {
    it("finds the workspace whose provider serves the email's domain", async () => {
      expect(await ssoProviderForEmail(f.db, f.secretBox, "Someone@ALPHA.example")).toMatchObject({
        tenantId: f.a.id,
        settings: { issuer: idp.issuer, clientId: CLIENT.id, clientSecret: CLIENT.secret },
        allowedDomains: ["alpha.example"],
      });
      expect((await ssoProviderForEmail(f.db, f.secretBox, "someone@beta.example"))?.tenantId).toBe(f.b.id);
    });

    it("finds none for another domain, a subdomain or a look-alike", async () => {
      for (const email of ["a@elsewhere.example", "a@sub.alpha.example", "a@alpha.example.evil"]) {
        expect(await ssoProviderForEmail(f.db, f.secretBox, email), email).toBeNull();
      }
    });
  });

  describe("ssoRequired", () => {
    it("requires the provider of a technician but not of an admin when it is required", async () => {
      expect(await ssoRequired(f.db, f.a.id, "technician")).toBe(false);
      await f.a.asAdmin.sso.save({
        issuer: idp.issuer,
        clientId: CLIENT.id,
        allowedDomains: ["alpha.example"],
        required: true,
      });
      try {
        expect(await ssoRequired(f.db, f.a.id, "technician")).toBe(true);
        expect(await ssoRequired(f.db, f.a.id, "admin")).toBe(false);
        // Another workspace's setting is its own.
        expect(await ssoRequired(f.db, f.b.id, "technician")).toBe(false);
      } finally {
        await f.a.asAdmin.sso.save({
          issuer: idp.issuer,
          clientId: CLIENT.id,
          allowedDomains: ["alpha.example"],
        });
      }
    });
  });

  describe("the sso router", () => {
    it("refuses an issuer that does not answer, with a message naming it, and keeps the saved one", async () => {
      const issuer = `http://127.0.0.1:${await closedPort()}`;
      await expect(
        f.a.asAdmin.sso.save({ issuer, clientId: CLIENT.id, allowedDomains: ["alpha.example"] }),
      ).rejects.toMatchObject({
        code: "BAD_REQUEST",
        message: expect.stringMatching(
          new RegExp(`^The provider could not be reached: .*${issuer}: it could not be reached`),
        ),
      });
      expect((await f.a.asAdmin.sso.get())?.issuer).toBe(idp.issuer);
    });

    it("refuses a domain another workspace's provider signs in with", async () => {
      await expect(
        f.a.asAdmin.sso.save({
          issuer: idp.issuer,
          clientId: CLIENT.id,
          allowedDomains: ["alpha.example", "Beta.Example"],
        }),
      ).rejects.toMatchObject({
        code: "CONFLICT",
        message: "beta.example signs in through another workspace's provider.",
      });
      expect((await f.a.asAdmin.sso.get())?.allowedDomains).toEqual(["alpha.example"]);
    });

    it("keeps the saved client secret when none is given", async () => {
      await f.a.asAdmin.sso.save({
        issuer: idp.issuer,
        clientId: CLIENT.id,
        allowedDomains: ["alpha.example"],
        defaultRole: "technician",
      });
      const provider = await ssoProviderOf(f.db, f.secretBox, f.a.id);
      expect(provider?.settings.clientSecret).toBe(CLIENT.secret);
      // And it still signs in, so the provider accepts it.
      expect(await signInAs("newcomer")).toMatchObject({ ok: true, created: false });
    });

    it("asks for a client secret when none was saved", async () => {
      await f.b.asAdmin.sso.remove();
      try {
        await expect(
          f.b.asAdmin.sso.save({ issuer: idp.issuer, clientId: CLIENT.id, allowedDomains: ["beta.example"] }),
        ).rejects.toMatchObject({ code: "BAD_REQUEST", message: "Client secret is required" });
        expect(await f.b.asAdmin.sso.get()).toBeNull();
      } finally {
        await f.b.asAdmin.sso.save({
          issuer: idp.issuer,
          clientId: CLIENT.id,
          clientSecret: CLIENT.secret,
          allowedDomains: ["beta.example"],
        });
      }
    });

    it("never returns the client secret, sealed or not", async () => {
      const saved = await f.a.asAdmin.sso.get();
      expect(saved).toMatchObject({
        issuer: idp.issuer,
        clientId: CLIENT.id,
        allowedDomains: ["alpha.example"],
        defaultRole: "technician",
        enabled: true,
        required: false,
        hasSecret: true,
      });
      expect(saved).not.toHaveProperty("clientSecret");
      const [row] = await f.db.select().from(TenantSso).where(eq(TenantSso.tenantId, f.a.id));
      const text = JSON.stringify(saved);
      expect(text).not.toContain(CLIENT.secret);
      expect(text).not.toContain(row!.clientSecret);
    });

    it("is for admins only: a technician is FORBIDDEN", async () => {
      await expect(f.a.asTech.sso.get()).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(
        f.a.asTech.sso.save({
          issuer: idp.issuer,
          clientId: CLIENT.id,
          clientSecret: "a-technician's-secret",
          allowedDomains: ["alpha.example"],
        }),
      ).rejects.toMatchObject({ code: "FORBIDDEN" });
      await expect(f.a.asTech.sso.remove()).rejects.toMatchObject({ code: "FORBIDDEN" });
      expect(await ssoProviderOf(f.db, f.secretBox, f.a.id)).not.toBeNull();
    });
  });
});
