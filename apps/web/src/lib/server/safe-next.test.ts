import { describe, expect, it } from "vitest";
import { safeNext } from "./safe-next.ts";

const origin = "http://localhost:3000";

describe("safeNext", () => {
  it("keeps a path on this origin, with its query and hash", () => {
    expect(safeNext("/sessions/abc/live?debug=1#x", origin)).toBe("/sessions/abc/live?debug=1#x");
    expect(safeNext(null, origin)).toBe("/agents");
  });

  it("refuses every way of naming another site, as the browser would resolve it", () => {
    for (const next of [
      "//evil.example/x",
      "/\\evil.example/x",
      "/\\/evil.example",
      "/\t/evil.example",
      "/\n/evil.example",
      "/.//evil.example",
      "https://evil.example/",
      "javascript:alert(1)",
      "evil.example",
    ]) {
      expect(safeNext(next, origin), next).toBe("/agents");
    }
  });
});
