/**
 * CSRF protection by double submit: a random token in a SameSite=Strict cookie that scripts on our
 * origin can read, echoed in the `x-csrf-token` header (tRPC) or a `csrf_token` form field (form
 * actions). A cross-site page can make the browser send the cookie but cannot read it to echo it.
 */
import { constantTimeEqual, generateToken } from "./secrets.ts";

export const CSRF_COOKIE = "rd_csrf";
export const CSRF_HEADER = "x-csrf-token";
export const CSRF_FIELD = "csrf_token";

export const generateCsrfToken = () => generateToken(24);

export function csrfTokenMatches(
  cookieToken: string | undefined,
  submitted: string | null | undefined,
): boolean {
  return !!cookieToken && !!submitted && constantTimeEqual(cookieToken, submitted);
}
