/** Reads the Postgres error out of whatever wraps it (Drizzle's DrizzleQueryError, PGlite, postgres.js). */
export interface DatabaseError {
  /** SQLSTATE, e.g. 23505 for a unique violation. */
  code: string | undefined;
  message: string;
}

export const UNIQUE_VIOLATION = "23505";

export function databaseError(error: unknown): DatabaseError | undefined {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return { code, message: e.message };
  }
  return undefined;
}
