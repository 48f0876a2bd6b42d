import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { deskInitScript, shellQuote } from "./desk-init.ts";

const run = promisify(execFile);

describe("the desk's init script", () => {
  it("quotes arguments so that the shell passes them on unchanged", async () => {
    const tricky = [
      "plain",
      "two words",
      "it's",
      '"double"',
      "$HOME",
      "`id`",
      "back\\slash",
      "new\nline",
      "",
      "*",
    ];
    const { stdout } = await run("bash", ["-c", `printf '%s\\0' ${tricky.map(shellQuote).join(" ")}`]);
    expect(stdout.split("\0").slice(0, -1)).toEqual(tricky);
  });

  it("starts every program after the go-ahead and lives as long as the X server", () => {
    const script = deskInitScript({
      displayNumber: 1000,
      width: 1366,
      height: 768,
      xauthority: "/run/desk/Xauthority",
      framebufferDir: "/tmp/.rd-screen",
      programs: [["fluxbox"], ["xterm", "-e", "nano"]],
    });
    const lines = script.split("\n");
    const goAhead = lines.findIndex((l) => l.startsWith("read -r go"));
    expect(lines.findIndex((l) => l.includes("'fluxbox'"))).toBeGreaterThan(goAhead);
    expect(lines.findIndex((l) => l.includes("'xterm' '-e' 'nano'"))).toBeGreaterThan(goAhead);
    expect(lines.at(-1)).toBe('wait "$xvfb"');
    expect(script).toContain("'-auth' '/run/desk/Xauthority'");
    expect(script).not.toContain("-ac");
    // The screen in a private directory of the desk's /tmp, made before the server starts.
    expect(script).toContain("mkdir -m 700 '/tmp/.rd-screen'");
    expect(script).toContain("'-fbdir' '/tmp/.rd-screen'");
  });

  it("is valid bash", async () => {
    const script = deskInitScript({
      displayNumber: 1,
      width: 320,
      height: 240,
      xauthority: "/x",
      framebufferDir: "/fb",
      programs: [["a b"]],
    });
    await expect(run("bash", ["-n", "-c", script])).resolves.toBeDefined();
  });
});
