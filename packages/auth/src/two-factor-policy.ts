/**
 * Whom a workspace's two-factor policy covers. Its own module, free of the sign-in machinery, so
 * the signaling worker (which also runs on Deno) checks an admin's standing by the same rule the
 * dashboard's account gate uses.
 */
import type { UserRole } from "@rd/db";

export type TwoFactorPolicy = "off" | "admins" | "everyone";

/** Whether a tenant's two-factor policy covers a user of this role. */
export function twoFactorRequired(policy: TwoFactorPolicy, role: UserRole): boolean {
  return policy === "everyone" || (policy === "admins" && role === "admin");
}
