/**
 * A RecordingStore on the local file system: one file per key under a root directory (by default
 * `<DATA_DIR>/recordings`), readable by the server's user only. Asynchronous I/O throughout: the
 * store runs inside the signaling server's event loop.
 */
import { randomUUID } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import type { RecordingStore } from "../contracts.ts";
import { checkKey, checkPrefix } from "./keys.ts";
import { RecordingStoreError } from "./store-error.ts";

const DIR_MODE = 0o700;
const FILE_MODE = 0o600;
/** Errors that mean the disk or the user's quota is exhausted. */
const FULL_CODES = new Set(["ENOSPC", "EDQUOT"]);

export class LocalStore implements RecordingStore {
  readonly kind = "local";
  private readonly root: string;

  constructor(rootDir: string) {
    this.root = resolve(rootDir);
  }

  /**
   * Writes a temporary file beside the target and renames it over the target: a reader sees the
   * old object or the new one, never a part, and a failed write (a full disk) leaves no trace.
   */
  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    const file = join(this.root, key);
    const dir = dirname(file);
    const temp = join(dir, `.${basename(file)}.${randomUUID()}.tmp`);
    try {
      await mkdir(dir, { recursive: true, mode: DIR_MODE });
      const handle = await open(temp, "wx", FILE_MODE);
      try {
        await handle.writeFile(body);
        // Flushed before the rename, so a crash cannot leave the new name on empty contents.
        await handle.sync();
      } finally {
        await handle.close();
      }
      await rename(temp, file);
    } catch (error) {
      await rm(temp, { force: true }).catch(() => undefined);
      throw storeError(error, `write ${key}`);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    try {
      const buffer = await readFile(join(this.root, key));
      return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      // A directory under the key is a prefix of other keys, not an object.
      if (hasCode(error, "ENOENT") || hasCode(error, "EISDIR")) {
        throw new RecordingStoreError("not_found", `Could not read ${key}: no such recording object.`, {
          cause: error,
        });
      }
      throw storeError(error, `read ${key}`);
    }
  }

  /** `a/b/` removes the directory a/b; `a/b/00` removes the entries of a/b whose names start with 00. */
  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const dir = join(this.root, prefix.slice(0, slash + 1));
    const namePrefix = prefix.slice(slash + 1);
    try {
      if (!namePrefix) {
        await rm(dir, { recursive: true, force: true });
        return;
      }
      const names = await readdir(dir).catch((error: unknown) => {
        if (hasCode(error, "ENOENT")) return [];
        throw error;
      });
      for (const name of names.filter((n) => n.startsWith(namePrefix))) {
        await rm(join(dir, name), { recursive: true, force: true });
      }
    } catch (error) {
      throw storeError(error, `delete ${prefix}`);
    }
  }
}

function storeError(error: unknown, what: string): RecordingStoreError {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && FULL_CODES.has(code)) {
    return new RecordingStoreError("full", `Could not ${what}: the recordings disk is full (${code}).`, {
      cause: error,
    });
  }
  const reason = typeof code === "string" ? code : String(error);
  return new RecordingStoreError(
    "unavailable",
    `Could not ${what} in the recordings directory (${reason}).`,
    {
      cause: error,
    },
  );
}

function hasCode(error: unknown, code: string): boolean {
  return (error as { code?: unknown } | null)?.code === code;
}
