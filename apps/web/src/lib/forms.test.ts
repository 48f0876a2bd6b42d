/**
 * Every form the page's script submits says method="POST". A form with no method submits as a GET
 * when pressed before the script has run (a slow connection, a page still hydrating), which puts
 * its fields in the URL: the Account page's passwords, the SSO client secret, in the address bar,
 * the browser's history and any proxy's access log. Posted, they stay in the request's body (and
 * the server refuses the post: no form action, no CSRF token).
 */
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const src = path.resolve(import.meta.dirname, "..");

function svelteFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return svelteFiles(full);
    return entry.name.endsWith(".svelte") ? [full] : [];
  });
}

describe("forms", () => {
  it("submitted by script all say method=POST", () => {
    const forms = svelteFiles(src).flatMap((file) =>
      [...readFileSync(file, "utf8").matchAll(/<form\b[^>]*>/g)].map((m) => ({
        file: path.relative(src, file),
        tag: m[0],
      })),
    );
    const scripted = forms.filter((form) => form.tag.includes("onsubmit="));
    expect(scripted.length).toBeGreaterThan(5);
    expect(scripted.filter((form) => !/method="POST"/.test(form.tag))).toEqual([]);
  });
});
