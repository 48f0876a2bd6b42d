import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { createSetupToken } from "./setup-token.ts";

describe("the first-run setup token", () => {
  it("is printed and written owner-only, matches loosely, and is void once used", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), "rd-setup-"));
    try {
      const printed: string[] = [];
      const token = await createSetupToken(dir, (line) => printed.push(line));
      const file = path.join(dir, "setup-token");
      const value = (await readFile(file, "utf8")).trim();
      expect(value).toMatch(/^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
      expect(printed.join("\n")).toContain(value);
      expect((await stat(file)).mode & 0o077).toBe(0);
      expect(token.matches(value.toLowerCase().replaceAll("-", " "))).toBe(true);
      expect(token.matches("AAAA-BBBB-CCCC-DDDD")).toBe(false);
      await token.consume();
      expect(token.matches(value)).toBe(false);
      await expect(stat(file)).rejects.toThrow();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
