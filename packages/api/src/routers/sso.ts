/**
 * The workspace's single sign-on provider (OpenID Connect), for admins: see it, set it up (the
 * provider is asked for its configuration before anything is saved), require it, remove it.
 */
import { OidcDiscoveryError, startOidcSignIn } from "@rd/auth";
import { appendEvent, TenantSso } from "@rd/db";
import { TRPCError } from "@trpc/server";
import { eq, ne } from "drizzle-orm";
import { z } from "zod";
import { ssoSecretAad } from "../services/sso.ts";
import { adminProcedure, router } from "../trpc.ts";

const domain = z
  .string()
  .trim()
  .toLowerCase()
  .transform((d) => d.replace(/^@/, ""))
  .pipe(
    z
      .string()
      .regex(/^(?=.{1,253}$)([a-z0-9-]+\.)+[a-z]{2,63}$/, { error: "must be a domain like example.com" }),
  );

const settingsInput = z.object({
  issuer: z.url({ protocol: /^https?$/, error: "Issuer must be the provider's https:// URL" }).max(500),
  clientId: z.string().trim().min(1, { error: "Client ID is required" }).max(500),
  /** Leave out to keep the saved secret. */
  clientSecret: z.string().min(1).max(2000).optional(),
  allowedDomains: z.array(domain).min(1, { error: "Name at least one email domain" }).max(20),
  defaultRole: z.enum(["technician", "admin"]).default("technician"),
  enabled: z.boolean().default(true),
  required: z.boolean().default(false),
});

export const ssoRouter = router({
  /** The saved provider, without its secret. */
  get: adminProcedure.query(async ({ ctx }) => {
    const [row] = await ctx.db.select().from(TenantSso).where(eq(TenantSso.tenantId, ctx.user.tenantId));
    if (!row) return null;
    const { clientSecret, tenantId: _tenant, ...rest } = row;
    return { ...rest, hasSecret: clientSecret.length > 0 };
  }),

  save: adminProcedure.input(settingsInput).mutation(async ({ ctx, input }) => {
    const [saved] = await ctx.db.select().from(TenantSso).where(eq(TenantSso.tenantId, ctx.user.tenantId));
    const secret =
      input.clientSecret ??
      (saved ? await ctx.secretBox.openText(saved.clientSecret, ssoSecretAad(ctx.user.tenantId)) : null);
    if (!secret) throw new TRPCError({ code: "BAD_REQUEST", message: "Client secret is required" });
    // A domain signs in through one workspace's provider only, or an email would be ambiguous.
    const others = await ctx.db
      .select({ domains: TenantSso.allowedDomains })
      .from(TenantSso)
      .where(ne(TenantSso.tenantId, ctx.user.tenantId));
    const taken = input.allowedDomains.find((d) => others.some((o) => o.domains.includes(d)));
    if (taken) {
      throw new TRPCError({
        code: "CONFLICT",
        message: `${taken} signs in through another workspace's provider.`,
      });
    }
    // Ask the provider now: a typo in the issuer is found here, not by the next person signing in.
    try {
      await startOidcSignIn({
        issuer: input.issuer,
        clientId: input.clientId,
        clientSecret: secret,
        redirectUri: "https://dashboard.invalid/login/sso/callback",
        allowInsecureHttp: new URL(input.issuer).protocol === "http:",
      });
    } catch (error) {
      const detail =
        error instanceof OidcDiscoveryError || error instanceof TypeError
          ? error.message
          : "it did not answer";
      throw new TRPCError({ code: "BAD_REQUEST", message: `The provider could not be reached: ${detail}` });
    }
    const values = {
      issuer: input.issuer,
      clientId: input.clientId,
      clientSecret: await ctx.secretBox.seal(secret, ssoSecretAad(ctx.user.tenantId)),
      allowedDomains: [...new Set(input.allowedDomains)],
      defaultRole: input.defaultRole,
      enabled: input.enabled,
      required: input.required,
      updatedAt: new Date(),
    };
    await ctx.db.transaction(async (tx) => {
      await tx
        .insert(TenantSso)
        .values({ tenantId: ctx.user.tenantId, ...values })
        .onConflictDoUpdate({ target: TenantSso.tenantId, set: values });
      await appendEvent(tx, {
        tenantId: ctx.user.tenantId,
        type: "tenant_security_changed",
        actor: { type: "user", id: ctx.user.id },
        data: {
          singleSignOn: {
            issuer: input.issuer,
            clientId: input.clientId,
            allowedDomains: values.allowedDomains,
            defaultRole: input.defaultRole,
            enabled: input.enabled,
            required: input.required,
            secretChanged: input.clientSecret !== undefined,
          },
        },
      });
    });
    return { saved: true };
  }),

  remove: adminProcedure.mutation(async ({ ctx }) => {
    await ctx.db.transaction(async (tx) => {
      const removed = await tx
        .delete(TenantSso)
        .where(eq(TenantSso.tenantId, ctx.user.tenantId))
        .returning({ issuer: TenantSso.issuer });
      if (removed.length > 0) {
        await appendEvent(tx, {
          tenantId: ctx.user.tenantId,
          type: "tenant_security_changed",
          actor: { type: "user", id: ctx.user.id },
          data: { singleSignOn: null },
        });
      }
    });
    return { removed: true };
  }),
});
