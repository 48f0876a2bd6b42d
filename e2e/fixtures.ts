/**
 * The browser tests' `test`: Playwright's, plus a guard that fails any test whose pages logged a
 * Content-Security-Policy violation, in the default context and in every context a test opens
 * itself. The dashboard ships a strict CSP; this is how we know it works under it.
 */
import { type BrowserContext, expect, test as base } from "@playwright/test";

export { expect };

const CSP_VIOLATION = /Content[- ]Security[- ]Policy/i;

export const test = base.extend<{ cspGuard: void }>({
  cspGuard: [
    async ({ context, browser }, use) => {
      const violations: string[] = [];
      const watch = (c: BrowserContext) =>
        c.on("console", (message) => {
          if (CSP_VIOLATION.test(message.text())) violations.push(message.text());
        });
      watch(context);
      const newContext = browser.newContext.bind(browser);
      browser.newContext = async (options) => {
        const created = await newContext(options);
        watch(created);
        return created;
      };
      await use();
      browser.newContext = newContext;
      expect(violations, "no Content-Security-Policy violation in the browser console").toEqual([]);
    },
    { auto: true },
  ],
});
