/**
 * tRPC setup: the context every call gets, the procedure levels (public, signed-in, admin), and the
 * one error formatter of this boundary. Validation errors carry their issues in words a person can
 * act on; unexpected errors never leak their details to the client.
 */
import type { Auth, AuthUser, SecretBox } from "@rd/auth";
import type { Database } from "@rd/db";
import { initTRPC, TRPCError } from "@trpc/server";
import superjson from "superjson";

export interface Context {
  db: Database;
  auth: Auth;
  /** The signed-in user, or null. Deactivated users never get this far (auth refuses them). */
  user: AuthUser | null;
  /** The dashboard session the call came with (a changed password keeps it, ends the others). */
  sessionId?: string | null;
  /** HMAC key (from RD_SECRET) for the signaling worker's tickets. */
  ticketKey: CryptoKey;
  /** Seals two-factor secrets at rest (AES-256-GCM, key derived from RD_SECRET). */
  secretBox: SecretBox;
  /** Most observers a session may have besides its controller (RD_MAX_OBSERVERS); 8 by default. */
  maxObservers?: number;
  /**
   * Starting a recording: the store it goes to and a fresh per-recording key, already wrapped by
   * the server's key (the recorder unwraps it). Absent: recording is not configured here.
   */
  recording?: { storage: "local" | "s3"; newWrappedKey(): string };
}

export type AuthedContext = Context & { user: AuthUser };

export interface FieldIssue {
  /** Dotted path into the input, empty for the input as a whole. */
  path: string;
  message: string;
}

function issuesOf(cause: unknown): FieldIssue[] | null {
  const issues = (cause as { issues?: unknown } | undefined)?.issues;
  if (!Array.isArray(issues)) return null;
  return issues.map((issue: { path?: PropertyKey[]; message?: string }) => ({
    path: (issue.path ?? []).map(String).join("."),
    message: issue.message ?? "is invalid",
  }));
}

export const describeIssues = (issues: FieldIssue[]) =>
  issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join("; ");

const t = initTRPC.context<Context>().create({
  // superjson keeps Dates as Dates across the wire, so the client sees the types the server returns.
  transformer: superjson,
  errorFormatter({ shape, error }) {
    const issues = error.code === "BAD_REQUEST" ? issuesOf(error.cause) : null;
    const hidden = error.code === "INTERNAL_SERVER_ERROR";
    return {
      ...shape,
      message: issues
        ? `Invalid input — ${describeIssues(issues)}`
        : hidden
          ? "Something went wrong on the server. It has been logged; try again."
          : shape.message,
      data: { code: shape.data.code, httpStatus: shape.data.httpStatus, path: shape.data.path, issues },
    };
  },
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure;

/** Signed in, whatever the account still owes: only the account's own procedures use this. */
export const accountProcedure = t.procedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: "UNAUTHORIZED", message: "Sign in to continue." });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

const GATE_MESSAGES = {
  change_password: "Choose your own password first (Account page): yours was issued by an administrator.",
  enrol_two_factor: "Your workspace requires two-factor sign-in: turn it on in your Account page first.",
} as const;

/** Signed in, and owing nothing (a password to change, a second factor to turn on). */
export const protectedProcedure = accountProcedure.use(({ ctx, next }) => {
  if (ctx.user.gate) throw new TRPCError({ code: "FORBIDDEN", message: GATE_MESSAGES[ctx.user.gate] });
  return next();
});

export const adminProcedure = protectedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== "admin") {
    throw new TRPCError({ code: "FORBIDDEN", message: "Only administrators can do this." });
  }
  return next();
});

export function notFound(what: string): TRPCError {
  return new TRPCError({ code: "NOT_FOUND", message: `${what} was not found. It may have been removed.` });
}
