/**
 * The local provider against the real sandbox (bubblewrap, Xvfb, cgroups): a desk from the built-in
 * `interview` template starts, shows its programs' windows, and stops leaving nothing; what the
 * sandbox cannot do is refused before anything starts. Skipped, and said so, without bubblewrap.
 */
import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@rd/log";
import { builtInDeskTemplate, type DeskTemplate } from "@rd/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCommand } from "../testing/run-command.ts";
import { LocalDeskProvider, sandboxLimits } from "./local.ts";
import { DeskProviderUnsupported } from "./provider.ts";

const hasBwrap = await access("/usr/bin/bwrap").then(
  () => true,
  () => false,
);
if (!hasBwrap) console.warn("local desk provider tests skipped: bubblewrap is missing");

const log = createLogger("silent", { name: "local-desk-provider-test" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function interview(): DeskTemplate {
  const template = builtInDeskTemplate("interview");
  if (!template) throw new Error("the built-in interview template is missing");
  return template;
}

describe("sandboxLimits", () => {
  it("converts the template's MiB to bytes and its CPUs to the CPU quota", () => {
    const template = interview();
    template.limits = { memoryMiB: 512, cpus: 0.5, maxProcesses: 64 };
    expect(sandboxLimits(template)).toMatchObject({
      memoryBytes: 512 * 1024 * 1024,
      cpuQuota: 0.5,
      maxProcesses: 64,
    });
  });
});

describe.skipIf(!hasBwrap)("LocalDeskProvider", () => {
  let baseDir: string;
  let provider: LocalDeskProvider;
  const run = `p${process.pid}`;

  beforeAll(async () => {
    baseDir = await mkdtemp(path.join(tmpdir(), "rd-desks-provider-test-"));
    provider = new LocalDeskProvider({ baseDir, log });
  });
  afterAll(async () => {
    await rm(baseDir, { recursive: true, force: true });
  });

  it("starts a desk from the interview template, shows its programs, and stops leaving nothing", async () => {
    const started = await provider.start({ id: `${run}-a`, tenantId: "t1", template: interview() });
    expect(started.providerRef).toBe(`${run}-a`);
    const display = started.display;
    if (!display) throw new Error("the local provider must return the display");
    expect([display.width, display.height]).toEqual([1366, 768]);

    // The desk agent's way in: outside(), with the display's cookie.
    const info = await runCommand(display.outside(["xdpyinfo"]));
    expect(info.code).toBe(0);
    expect(info.stdout).toContain("1366x768 pixels");
    // The template's programs come up: an xterm and the editor's xterm map windows.
    let windows = "";
    for (let i = 0; i < 100 && !windows.includes('"Editor"'); i++) {
      windows = (await runCommand(display.outside(["xwininfo", "-root", "-tree"]))).stdout;
      await sleep(100);
    }
    expect(windows).toContain('"Editor"');
    expect(await readdir(baseDir)).toEqual([`${run}-a`]);

    await provider.stop(started.providerRef);
    await display.exited;
    expect(await readdir(baseDir)).toEqual([]);
    expect((await runCommand(display.outside(["xdpyinfo"]))).code).not.toBe(0);
    // Stopping again is no error.
    await provider.stop(started.providerRef);
  });

  it("refuses a template with internet egress, starting nothing", async () => {
    const template = { ...interview(), egress: "internet" as const };
    await expect(provider.start({ id: `${run}-b`, tenantId: "t1", template })).rejects.toThrow(
      DeskProviderUnsupported,
    );
    await expect(provider.start({ id: `${run}-b`, tenantId: "t1", template })).rejects.toThrow(
      /no network egress/,
    );
    expect(await readdir(baseDir)).toEqual([]);
  });

  it("reaps the desks a crashed server left, live in the database or not", async () => {
    const id = `${run}-crashed`;
    // A server that starts a desk and is then killed, as a crash would.
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("../testing/desk-child.ts", import.meta.url)), baseDir, id],
      { stdio: ["pipe", "pipe", "inherit"] },
    );
    await new Promise<void>((resolve, reject) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString().includes("\n")) resolve();
      });
      child.once("exit", (code) => reject(new Error(`desk-child exited with ${code}`)));
    });
    child.kill("SIGKILL");
    expect(await readdir(baseDir)).toEqual([id]);
    // The desk died with its server, so even a ref the database holds live is removed and reported.
    expect(await new LocalDeskProvider({ baseDir, log }).reap(new Set([id]))).toEqual([id]);
    expect(await readdir(baseDir)).toEqual([]);
  });

  it("refuses to reap while desks it started are running", async () => {
    const started = await provider.start({ id: `${run}-c`, tenantId: "t1", template: interview() });
    await expect(provider.reap(new Set([started.providerRef]))).rejects.toThrow(/cannot reap/);
    await provider.stop(started.providerRef);
    expect(await provider.reap(new Set())).toEqual([]);
  });
});
