/**
 * The secret that signs signaling tickets (RD_SECRET). When it is not configured, every process on
 * this machine reads the same random secret from a 0600 file in the data directory (0700 when this
 * creates it), creating it on first use, so the embedded single-machine run needs no configuration.
 */
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";

export function resolveSecret(configured: string | undefined, dataDir: string): string {
  if (configured) {
    if (configured.length < 32) throw new Error("RD_SECRET must be at least 32 characters long.");
    return configured;
  }
  const file = path.resolve(dataDir, "secret");
  try {
    return readFileSync(file, "utf8").trim();
  } catch {
    mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
    const secret = randomBytes(32).toString("base64url");
    try {
      // "wx": if another process created it meanwhile, keep theirs.
      writeFileSync(file, secret, { mode: 0o600, flag: "wx" });
      return secret;
    } catch {
      return readFileSync(file, "utf8").trim();
    }
  }
}
