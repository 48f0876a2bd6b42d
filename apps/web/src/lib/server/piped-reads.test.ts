import { createReadStream } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { guardPipedReads } from "./piped-reads.ts";

describe("guardPipedReads", () => {
  let scratch: string;
  let server: http.Server;
  let base: string;
  let warnings: { details: { path?: string; err?: NodeJS.ErrnoException }; message: string }[];

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "rd-piped-reads-"));
    await writeFile(path.join(scratch, "app.js"), "console.log('served');");
    warnings = [];
    const log = { warn: (details: object, message: string) => warnings.push({ details, message }) };
    // What sirv does with a file it listed at start-up: headers first, then the file piped, with
    // no error handler of its own on the read stream.
    server = http.createServer((req, res) => {
      guardPipedReads(res, log, req.url);
      const file = path.join(scratch, new URL(req.url!, "http://x").pathname);
      if (req.headers["x-headers-first"] !== "no") {
        res.writeHead(200, { "content-type": "text/javascript", "content-length": "22" });
      }
      createReadStream(file).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterEach(async () => {
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
    await rm(scratch, { recursive: true, force: true });
  });

  it("cuts short a response whose file is gone, and the server goes on serving", async () => {
    // Unguarded, the read's ENOENT is thrown from the stream and ends the process (and this test run).
    await expect(fetch(`${base}/gone.js?token=secret`).then((res) => res.text())).rejects.toThrow();
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.details.err?.code).toBe("ENOENT");
    expect(warnings[0]!.details.path).toBe("/gone.js");
    expect(JSON.stringify(warnings)).not.toContain("secret");

    const res = await fetch(`${base}/app.js`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("console.log('served');");
  });

  it("answers 503 when the read fails before any header went out", async () => {
    const res = await fetch(`${base}/gone.js`, { headers: { "x-headers-first": "no" } });
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(await res.text()).toContain("Try again");
    expect(warnings).toHaveLength(1);
  });
});
