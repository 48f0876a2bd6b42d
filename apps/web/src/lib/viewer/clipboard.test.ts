import { DATA_LIMITS } from "@rd/protocol";
import { describe, expect, it } from "vitest";
import {
  clipboardPreview,
  clipboardProblem,
  PREVIEW_CHARS,
  PREVIEW_LINES,
  readLocalClipboard,
  writeLocalClipboard,
} from "./clipboard.ts";

describe("clipboardProblem", () => {
  it("accepts text up to the protocol's limit", () => {
    expect(clipboardProblem("hello")).toBeNull();
    expect(clipboardProblem("x".repeat(DATA_LIMITS.clipboardChars))).toBeNull();
  });

  it("refuses longer text with a message that gives both sizes", () => {
    expect(clipboardProblem("x".repeat(DATA_LIMITS.clipboardChars + 1))).toBe(
      "The clipboard holds 65,537 characters; at most 65,536 can be sent. Copy less and try again.",
    );
  });

  it("refuses text within the character limit that is too large once encoded for the channel", () => {
    // 60 000 characters of 3-byte UTF-8: 180 000 bytes, over a 128 KiB transport but under 300 KiB.
    const wide = "€".repeat(60_000);
    expect(clipboardProblem(wide)).toBeNull();
    expect(clipboardProblem(wide, 128 * 1024)).toMatch(/too large to send once encoded \(176 KiB\)/);
  });

  it("says so when there is nothing to send", () => {
    expect(clipboardProblem("")).toMatch(/empty/);
  });
});

describe("local clipboard access", () => {
  it("reads the clipboard's text when the browser allows it", async () => {
    expect(await readLocalClipboard({ readText: async () => "copied" })).toEqual({
      ok: true,
      text: "copied",
    });
  });

  it("reports a refusal instead of throwing, so the caller can offer a text box", async () => {
    const refused = await readLocalClipboard({
      readText: () => Promise.reject(new DOMException("denied", "NotAllowedError")),
    });
    expect(refused).toMatchObject({ ok: false });
    expect(await readLocalClipboard(undefined)).toMatchObject({ ok: false });
  });

  it("writes when allowed and says false when refused", async () => {
    const written: string[] = [];
    expect(await writeLocalClipboard("a", { writeText: async (t) => void written.push(t) })).toBe(true);
    expect(written).toEqual(["a"]);
    expect(await writeLocalClipboard("a", { writeText: () => Promise.reject(new Error("no")) })).toBe(false);
  });
});

describe("clipboardPreview", () => {
  it("shows a short text whole, tabs and line ends included", () => {
    expect(clipboardPreview("ls -la\tx\r\nok\n")).toEqual({ shown: "ls -la\tx\r\nok\n", more: 0 });
  });

  it("cuts a long text at the character limit and says how much is left out", () => {
    const text = "y".repeat(PREVIEW_CHARS + 250);
    expect(clipboardPreview(text)).toEqual({ shown: "y".repeat(PREVIEW_CHARS), more: 250 });
  });

  it("cuts at the line limit, however short the lines", () => {
    const lines = Array.from({ length: PREVIEW_LINES + 3 }, (_, i) => `line ${i}`);
    const { shown, more } = clipboardPreview(lines.join("\n"));
    expect(shown).toBe(lines.slice(0, PREVIEW_LINES).join("\n"));
    expect(more).toBe(lines.join("\n").length - shown.length);
  });

  it("makes visible what would hide what a paste does: escapes, lone carriage returns, bidi overrides", () => {
    // Shown as "echo hi", pasted it would first run "rm -rf ~": the carriage return hides it.
    expect(clipboardPreview("rm -rf ~ #\recho hi").shown).toBe("rm -rf ~ #⟨U+000D⟩echo hi");
    expect(clipboardPreview("\u001b[2Jclear").shown).toBe("⟨U+001B⟩[2Jclear");
    expect(clipboardPreview("abc\u202edcba\u200b").shown).toBe("abc⟨U+202E⟩dcba⟨U+200B⟩");
  });
});
