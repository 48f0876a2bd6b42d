/**
 * The virtual desktop's X server against real X clients: it admits only those holding its cookie,
 * and the programs it starts get the agent's minimal environment, not the agent's own.
 */
import { spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { startVirtualDisplay, type VirtualDisplay } from "./virtual-display.ts";
import { createXAuthority } from "./x-authority.ts";

/** Runs xdpyinfo on `display` with only the given XAUTHORITY: what any local user could try. */
function connect(display: string, xauthority: string) {
  const result = spawnSync("xdpyinfo", ["-display", display], {
    env: { PATH: process.env.PATH, XAUTHORITY: xauthority },
    encoding: "utf8",
    timeout: 10_000,
  });
  return { ok: result.status === 0, stderr: result.stderr };
}

describe("a virtual display", () => {
  let dir: string;
  let desktop: VirtualDisplay;

  beforeAll(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "rd-vd-test-"));
    desktop = await startVirtualDisplay({ width: 320, height: 240, windowManager: false, firstDisplay: 60 });
  });
  afterAll(async () => {
    await desktop?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("refuses an X client without its cookie and admits one with it", async () => {
    const empty = path.join(dir, "empty");
    await writeFile(empty, "");
    const refused = connect(desktop.display, empty);
    expect(refused.ok).toBe(false);
    expect(refused.stderr).toMatch(/unable to open display/);
    expect(connect(desktop.display, desktop.xauthority).ok).toBe(true);
  });

  it("refuses a client holding another cookie for the same display number", async () => {
    const other = await createXAuthority(Number(desktop.display.slice(1)));
    try {
      expect(connect(desktop.display, other.file).ok).toBe(false);
    } finally {
      other.remove();
    }
  });

  it("keeps the cookie where only its owner can read it, and deletes it when the display stops", async () => {
    const d = await startVirtualDisplay({ width: 320, height: 240, windowManager: false, firstDisplay: 60 });
    try {
      expect(statSync(d.xauthority).mode & 0o777).toBe(0o600);
      expect(statSync(path.dirname(d.xauthority)).mode & 0o777).toBe(0o700);
    } finally {
      await d.close();
    }
    expect(existsSync(path.dirname(d.xauthority))).toBe(false);
  });

  it("runs its programs with the agent's minimal environment, never the agent's secrets", async () => {
    const file = path.join(dir, "terminal-env");
    process.env.RD_SECRET = "must not leak";
    let d: VirtualDisplay | undefined;
    try {
      d = await startVirtualDisplay({
        width: 320,
        height: 240,
        windowManager: false,
        firstDisplay: 60,
        terminal: ["sh", "-c", `env > ${file}.tmp && mv ${file}.tmp ${file}; sleep 60`],
      });
      const env = await vi.waitFor(() => readFile(file, "utf8"), { timeout: 15_000 });
      const lines = env.split("\n");
      expect(lines).toContain(`DISPLAY=${d.display}`);
      expect(lines).toContain(`XAUTHORITY=${d.xauthority}`);
      expect(env).not.toContain("RD_SECRET");
      expect(lines.filter((l) => l.startsWith("VITEST"))).toEqual([]);
    } finally {
      delete process.env.RD_SECRET;
      await d?.close();
    }
  });
});
