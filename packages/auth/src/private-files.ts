/**
 * What the product keeps on disk is its owner's alone: the data directory (the embedded database,
 * the ticket secret, the demo agent's credential) and the agent's credential. New files are kept
 * private by a restrictive umask set once when a server starts (PGlite writes through a file layer
 * of its own with mode 0666, so the umask is the one thing that reaches its files); a directory
 * left more open by an older install is tightened on start.
 */
import { chmod, lstat, readdir } from "node:fs/promises";
import path from "node:path";
import process from "node:process";

/** Group and others get nothing: new files 0600, new directories 0700. */
export const PRIVATE_UMASK = 0o077;

export interface TightenResult {
  /** Files and directories whose group or other permissions were taken away. */
  fixed: number;
  /** Entries that could not be changed (owned by another user, say): still open to others. */
  failed: string[];
}

/**
 * Makes every file and directory this process (and any child it starts) creates from now on
 * private to its owner. Call it first thing in a server's entry: the umask is process-wide.
 */
export function restrictNewFiles(): void {
  process.umask(PRIVATE_UMASK);
}

/**
 * Takes group and other permissions off `dir` and everything under it. Asynchronous, a directory's
 * entries in parallel, so a database's thousand files do not hold the event loop. Symbolic links
 * are left alone (chmod would follow them out of the directory); a missing `dir` is not an error
 * (whoever writes to it first creates it).
 */
export async function tightenTree(dir: string): Promise<TightenResult> {
  const result: TightenResult = { fixed: 0, failed: [] };
  await tighten(path.resolve(dir), result);
  return result;
}

async function tighten(entry: string, result: TightenResult): Promise<void> {
  let stats;
  try {
    stats = await lstat(entry);
  } catch (error) {
    // Gone meanwhile (PGlite's temporary files come and go): nothing to tighten.
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  if (stats.isSymbolicLink()) return;
  if ((stats.mode & 0o077) !== 0) {
    try {
      await chmod(entry, stats.mode & 0o700);
      result.fixed += 1;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === "ENOENT") return;
      if (code !== "EPERM" && code !== "EACCES") throw error;
      result.failed.push(entry);
    }
  }
  if (!stats.isDirectory()) return;
  let names: string[];
  try {
    names = await readdir(entry);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  await Promise.all(names.map((name) => tighten(path.join(entry, name), result)));
}

/** What the start-up step needs of a logger (pino's and @rd/log's both fit). */
export interface PrivacyLog {
  warn(fields: Record<string, unknown>, msg: string): void;
  error(fields: Record<string, unknown>, msg: string): void;
}

/**
 * The start-up step of a server that keeps files in `dataDir`: new files private from now on, and
 * what an older install left open tightened, said in the log. Resolves with what it changed.
 */
export async function makeDataDirPrivate(dataDir: string, log?: PrivacyLog): Promise<TightenResult> {
  restrictNewFiles();
  const result = await tightenTree(dataDir);
  if (result.fixed > 0) {
    log?.warn(
      { dataDir, fixed: result.fixed },
      "took group and other permissions off files in the data directory",
    );
  }
  if (result.failed.length > 0) {
    log?.error(
      { dataDir, count: result.failed.length, files: result.failed.slice(0, 10) },
      "could not make these data files private (another owner?): others on this machine may read them",
    );
  }
  return result;
}
