import { execFileSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { commandExists } from "./preflight.ts";
import { createXAuthority, encodeXauthEntry, FAMILY_WILD, MIT_MAGIC_COOKIE } from "./x-authority.ts";

const cookie = Buffer.from("000102030405060708090a0b0c0d0e0f", "hex");

describe("Xauthority files", () => {
  it("encodes an entry as libXau does: family, then address, number, name and data, each length-prefixed", () => {
    const entry = encodeXauthEntry({
      family: 0x0100,
      address: Buffer.from("vm"),
      number: "93",
      name: MIT_MAGIC_COOKIE,
      data: cookie,
    });
    // What `xauth -f f add vm/unix:93 MIT-MAGIC-COOKIE-1 0001…0f` writes on a host named "vm".
    expect(entry.toString("hex")).toBe(
      "0100" +
        "0002" +
        "766d" +
        "0002" +
        "3933" +
        "0012" +
        Buffer.from(MIT_MAGIC_COOKIE).toString("hex") +
        "0010" +
        cookie.toString("hex"),
    );
  });

  it("writes a random 16-byte cookie for the display, 0600 in a directory only its owner may enter", async () => {
    const a = await createXAuthority(93);
    const b = await createXAuthority(93);
    try {
      expect(statSync(a.file).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(a.file)).mode & 0o777).toBe(0o700);
      const bytes = await readFile(a.file);
      const header = encodeXauthEntry({
        family: FAMILY_WILD,
        address: Buffer.alloc(0),
        number: "93",
        name: MIT_MAGIC_COOKIE,
        data: Buffer.alloc(16),
      }).subarray(0, -16);
      expect(bytes.subarray(0, header.length)).toEqual(header);
      expect(bytes.length).toBe(header.length + 16);
      // Random: two files, two cookies.
      expect(bytes.subarray(-16)).not.toEqual((await readFile(b.file)).subarray(-16));
    } finally {
      a.remove();
      b.remove();
    }
    expect(existsSync(path.dirname(a.file))).toBe(false);
  });

  it.skipIf(!commandExists("xauth"))(
    "writes a file that xauth reads as a wildcard entry for the display",
    async () => {
      const authority = await createXAuthority(93);
      try {
        const listed = execFileSync("xauth", ["-f", authority.file, "nlist"], { encoding: "utf8" });
        expect(listed).toMatch(
          /^ffff 0000 {2}0002 3933 0012 4d49542d4d414749432d434f4f4b49452d31 0010 [0-9a-f]{32}\n$/,
        );
      } finally {
        authority.remove();
      }
    },
  );
});
