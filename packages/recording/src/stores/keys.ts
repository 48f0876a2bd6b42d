/**
 * Recording store keys: relative paths of plain names, `<tenantId>/<recordingId>/000001.m4s`.
 * Both stores check them the same way, so a key that works on one works on the other, and none
 * can reach outside the local store's directory.
 */
import { InvalidStoreKey } from "./store-error.ts";

/** Far below S3's 1024-byte limit and PATH_MAX; real keys are under 100 characters. */
const MAX_KEY_LENGTH = 512;
/** Six digits keep keys in seq order for a million segments: 35 days of 3-second segments. */
const SEQ_DIGITS = 6;

/** The key of segment `seq` of a recording. */
export function segmentKey(tenantId: string, recordingId: string, seq: number): string {
  if (!Number.isSafeInteger(seq) || seq < 0) throw new RangeError(`segment seq ${seq}`);
  return `${recordingPrefix(tenantId, recordingId)}${String(seq).padStart(SEQ_DIGITS, "0")}.m4s`;
}

/** The prefix of every object of a recording: what `deletePrefix` takes to delete it. */
export function recordingPrefix(tenantId: string, recordingId: string): string {
  for (const name of [tenantId, recordingId]) checkName(name, `${tenantId}/${recordingId}/`);
  return `${tenantId}/${recordingId}/`;
}

/** Throws {@link InvalidStoreKey} unless `key` names an object. */
export function checkKey(key: string): void {
  checkPath(key);
  if (key.endsWith("/")) throw new InvalidStoreKey(key, "it ends with a slash");
}

/**
 * Throws {@link InvalidStoreKey} unless `prefix` is a key or the start of one; a directory prefix
 * ends with a slash. Never empty: that would mean every recording of every tenant.
 */
export function checkPrefix(prefix: string): void {
  checkPath(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix, prefix);
}

function checkPath(path: string, shown = path): void {
  if (path.length === 0) throw new InvalidStoreKey(shown, "it is empty");
  if (path.length > MAX_KEY_LENGTH) throw new InvalidStoreKey(shown, `it is longer than ${MAX_KEY_LENGTH}`);
  if (path.startsWith("/")) throw new InvalidStoreKey(shown, "it is absolute");
  for (const name of path.split("/")) checkName(name, shown);
}

function checkName(name: string, shown: string): void {
  if (name.length === 0) throw new InvalidStoreKey(shown, "it has an empty path segment");
  if (name === "." || name === "..") throw new InvalidStoreKey(shown, `it has a "${name}" segment`);
  // Names starting with a dot are the local store's temporary files.
  if (name.startsWith(".")) throw new InvalidStoreKey(shown, "a path segment starts with a dot");
  if (name.includes("\\")) throw new InvalidStoreKey(shown, "it has a backslash");
  if (name.includes("/")) throw new InvalidStoreKey(shown, "a name has a slash");
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is refused
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidStoreKey(shown, "it has a control character");
}
