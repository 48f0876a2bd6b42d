import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { encodeXauthEntry, writeXCookie } from "./x-cookie.ts";

describe("a desk's X cookie", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "rd-cookie-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("is one wildcard MIT-MAGIC-COOKIE-1 entry for the display, in libXau's format", () => {
    const cookie = Buffer.alloc(16, 7);
    const entry = encodeXauthEntry(1000, cookie);
    expect(entry.readUInt16BE(0)).toBe(0xffff);
    expect(entry.readUInt16BE(2)).toBe(0);
    expect(entry.readUInt16BE(4)).toBe(4);
    expect(entry.subarray(6, 10).toString()).toBe("1000");
    expect(entry.readUInt16BE(10)).toBe(18);
    expect(entry.subarray(12, 30).toString()).toBe("MIT-MAGIC-COOKIE-1");
    expect(entry.readUInt16BE(30)).toBe(16);
    expect(entry.subarray(32)).toEqual(cookie);
  });

  it("is written read-only for its owner, fresh each time, and never over an existing file", async () => {
    const file = path.join(dir, "Xauthority");
    await writeXCookie(file, 1000);
    expect((await stat(file)).mode & 0o777).toBe(0o400);
    const other = path.join(dir, "other");
    await writeXCookie(other, 1000);
    expect(await readFile(file)).not.toEqual(await readFile(other));
    await expect(writeXCookie(file, 1000)).rejects.toThrow(/EEXIST/);
  });
});
