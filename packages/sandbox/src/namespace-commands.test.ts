import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  closeFdsAbove,
  inCgroups,
  outsideCommand,
  SYSTEM_PATH,
  WRAPPER_FAILED,
} from "./namespace-commands.ts";
import { runCommand } from "./testing/run-command.ts";

const command = (argv: string[]) => ({
  file: argv[0] ?? "",
  args: argv.slice(1),
  env: { PATH: SYSTEM_PATH },
});

describe("namespace commands", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), "rd-ns-test-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("join every cgroup with the program's own pid before the program runs", async () => {
    // Plain files stand in for cgroup.procs: the wrapper writes to them the same way.
    const procs = [path.join(dir, "memory.procs"), path.join(dir, "pids.procs")];
    const result = await runCommand(
      command(inCgroups(procs, ["sh", "-c", 'echo $$; cat "$0"', procs[0] ?? ""])),
    );
    const [pid, seenByProgram] = result.stdout.trim().split("\n");
    expect(seenByProgram).toBe(pid);
    for (const file of procs) expect((await readFile(file, "utf8")).trim()).toBe(pid);
  });

  it("never run the program when a cgroup cannot be joined", async () => {
    const marker = path.join(dir, "ran");
    const procs = [path.join(dir, "missing", "cgroup.procs")];
    const result = await runCommand(command(inCgroups(procs, ["touch", marker])));
    expect(result.code).toBe(WRAPPER_FAILED);
    await expect(readFile(marker)).rejects.toThrow(/ENOENT/);
  });

  it("close every inherited descriptor above the ones kept", async () => {
    const script = `exec 7>/dev/null 12>/dev/null; ${closeFdsAbove(2)}; ls /proc/self/fd`;
    const result = await runCommand(command(["bash", "-c", script]));
    // 0–2 stay, 3 is ls's own directory handle.
    expect(result.stdout.trim().split("\n").map(Number).sort()).toEqual([0, 1, 2, 3]);
  });

  it.skipIf(process.getuid?.() !== 0)(
    "refuse to run an outside client when an X server of the host holds the display's abstract socket",
    async () => {
      // libxcb would connect to this socket instead of the desk's: the wrapper must notice.
      const displayNumber = 3000 + (process.pid % 1000);
      const squatter = net.createServer((socket) => socket.destroy());
      await new Promise<void>((resolve) => squatter.listen(`\0/tmp/.X11-unix/X${displayNumber}`, resolve));
      try {
        const target = {
          socketDir: dir,
          displayNumber,
          xauthority: "/nonexistent",
          asRoot: true,
          uid: 0,
          gid: 0,
        };
        const result = await runCommand(outsideCommand(target, ["true"]));
        expect(result.code).toBe(WRAPPER_FAILED);
        expect(result.stderr).toContain(`display :${displayNumber} is taken`);
        // A free number: the client runs, and sees the desk's socket directory as /tmp/.X11-unix.
        await writeFile(path.join(dir, `X${displayNumber + 1}`), "");
        const free = await runCommand(
          outsideCommand({ ...target, displayNumber: displayNumber + 1 }, ["ls", "/tmp/.X11-unix"]),
        );
        expect(free.code).toBe(0);
        expect(free.stdout.trim()).toBe(`X${displayNumber + 1}`);
      } finally {
        await new Promise((resolve) => squatter.close(resolve));
      }
    },
  );
});
