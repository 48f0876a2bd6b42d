/**
 * The one-time token that first-run setup asks for. Whoever reaches a fresh dashboard first must not
 * become its admin just by being first: the token is printed on the server's console and kept in a
 * 0600 file in DATA_DIR, so only someone who can see the console or read the data directory can
 * set up the workspace. RD_ADMIN_EMAIL + RD_ADMIN_PASSWORD skip the page (and the token) entirely.
 */
import { mkdir, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { constantTimeEqual, generateEnrollmentCode, normalizeEnrollmentCode, sha256Hex } from "@rd/auth";

export interface SetupToken {
  /** Whether `input` is the token (any case, dashes and spaces ignored). */
  matches(input: string): boolean;
  /** Setup is done: the token is void and its file removed. */
  consume(): Promise<void>;
}

export async function createSetupToken(dataDir: string, say: (line: string) => void): Promise<SetupToken> {
  // Same shape as an enrollment code (80 bits, Crockford base32): easy to read off a console and type.
  const token = generateEnrollmentCode();
  const file = path.resolve(dataDir, "setup-token");
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await writeFile(file, `${token}\n`, { mode: 0o600 });
  say(`first-run setup token: ${token}  (also in ${file}; the setup page asks for it)`);
  let hash: string | null = sha256Hex(normalizeEnrollmentCode(token));
  return {
    matches: (input) => hash !== null && constantTimeEqual(sha256Hex(normalizeEnrollmentCode(input)), hash),
    async consume() {
      hash = null;
      await rm(file, { force: true });
    },
  };
}
