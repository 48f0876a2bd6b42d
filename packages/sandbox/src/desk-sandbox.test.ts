/**
 * Desk sandboxes against the real thing: bubblewrap, Xvfb, the kernel's namespaces and cgroups.
 * Commands run inside a desk the way a candidate's programs do (desk.inside: its namespaces, cgroup
 * and user), or outside as the trusted desk agent does (desk.outside), and each test checks what the
 * isolation lets through. Skipped, and said so, only where bubblewrap is not installed.
 */
import { spawn } from "node:child_process";
import { access, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import net from "node:net";
import { networkInterfaces, tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger } from "@rd/log";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeskCgroup } from "./cgroup.ts";
import { type DeskSandbox, type DeskSandboxOptions, startDeskSandbox } from "./desk-sandbox.ts";
import { deskHostUser } from "./host-user.ts";
import { processStartTime } from "./process-identity.ts";
import { reapDeskSandboxes } from "./reap.ts";
import { runCommand } from "./testing/run-command.ts";

async function onPath(program: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? "").split(":").concat("/usr/bin")) {
    if (
      await access(path.join(dir, program)).then(
        () => true,
        () => false,
      )
    )
      return true;
  }
  return false;
}

const hasBwrap = await onPath("bwrap");
if (!hasBwrap)
  console.warn("desk sandbox tests skipped: bubblewrap is missing (sudo apt-get install -y bubblewrap)");

const log = createLogger("silent", { name: "desk-sandbox-test" });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it holds or `ms` pass; resolves with whether it held. */
async function eventually(check: () => Promise<boolean>, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return true;
    await sleep(50);
  }
  return check();
}

const exists = (p: string) =>
  access(p).then(
    () => true,
    () => false,
  );

/** Whether any process on the host runs as `uid`. */
async function processesOf(uid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    const status = await readFile(`/proc/${name}/status`, "utf8").catch(() => "");
    if (new RegExp(`^Uid:\\s+${uid}\\s`, "m").test(status)) pids.push(Number(name));
  }
  return pids;
}

async function cgroupGone(cgroup: DeskCgroup | null | undefined): Promise<boolean> {
  if (!cgroup) return true;
  const found = await Promise.all(Object.values(cgroup.dirs).map(exists));
  return !found.includes(true);
}

describe("desk options", () => {
  const base = { log, baseDir: "/nonexistent/rd-desks" };
  it.each([
    ["an id that is not [a-z0-9-]", { id: "../etc" }, /desk id/],
    ["a resolution out of range", { id: "d", resolution: "100x100" }, /resolution/],
    ["a memory limit too small for Xvfb", { id: "d", limits: { memoryBytes: 1024 } }, /memoryBytes/],
    ["a CPU quota the kernel would refuse", { id: "d", limits: { cpuQuota: 0.001 } }, /cpuQuota/],
    ["network egress", { id: "d", network: "internet" as "none" }, /network/],
  ])("refuses %s before touching the host", async (_name, options, message) => {
    await expect(startDeskSandbox({ ...base, ...options })).rejects.toThrow(message);
  });
});

describe.skipIf(!hasBwrap)("a desk sandbox", () => {
  const run = `t${process.pid}`;
  let baseDir: string;
  let dataDir: string;
  let secret: string;
  let server: net.Server;
  let port: number;
  let connections = 0;
  let a: DeskSandbox;
  let b: DeskSandbox;
  const extra: DeskSandbox[] = [];

  const start = async (options: Omit<DeskSandboxOptions, "log" | "baseDir">) => {
    const desk = await startDeskSandbox({ baseDir, log, ...options });
    extra.push(desk);
    return desk;
  };

  beforeAll(async () => {
    baseDir = await mkdtemp(path.join(tmpdir(), "rd-desks-test-"));
    // The dashboard's data directory: a secret the host can read and no desk may.
    dataDir = await mkdtemp(path.join(tmpdir(), "rd-data-test-"));
    secret = `secret-${Math.random().toString(36).slice(2)}`;
    await writeFile(path.join(dataDir, "setup-token"), secret);
    server = net.createServer((socket) => {
      connections++;
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as net.AddressInfo).port;
    [a, b] = await Promise.all([
      start({ id: `${run}-a`, forbiddenPaths: [dataDir] }),
      // A marker process that desk A must not see.
      start({ id: `${run}-b`, programs: [["sleep", "31337"]], forbiddenPaths: [dataDir] }),
    ]);
  });

  afterAll(async () => {
    await Promise.all(extra.map((desk) => desk.stop()));
    await new Promise((resolve) => server?.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
    await rm(baseDir, { recursive: true, force: true });
  });

  const inA = (script: string, input?: Buffer) => runCommand(a.inside(["sh", "-c", script]), { input });

  it("runs its programs as an unprivileged user without capabilities, writing only home and /tmp", async () => {
    // PID 2 is the desk's init script, the parent of every desk program.
    const status = await inA("grep -E '^(Uid|CapEff|CapBnd|NoNewPrivs):' /proc/2/status");
    expect(status.stdout).toMatch(/^Uid:\s+1000\s/m);
    expect(status.stdout).toMatch(/^CapEff:\s+0+$/m);
    expect(status.stdout).toMatch(/^CapBnd:\s+0+$/m);
    expect(status.stdout).toMatch(/^NoNewPrivs:\s+1$/m);
    if (process.getuid?.() === 0) {
      const host = await readFile(`/proc/${a.pid}/status`, "utf8");
      expect(host).toMatch(new RegExp(`^Uid:\\s+${deskHostUser(a.id)?.uid}\\s`, "m"));
    }
    const writes = await inA(
      'for f in ~/ok /tmp/ok /tmp/.X11-unix/junk /usr/junk /junk /etc/junk; do touch $f 2>/dev/null && echo "wrote $f"; done; unshare -U true 2>/dev/null && echo userns',
    );
    expect(writes.stdout.trim().split("\n")).toEqual(["wrote /home/desk/ok", "wrote /tmp/ok"]);
  });

  it("cannot read the dashboard's data directory, which the host can", async () => {
    expect(await readFile(path.join(dataDir, "setup-token"), "utf8")).toBe(secret);
    const result = await inA(
      `cat '${dataDir}/setup-token'; echo "cat: $?"; ls '${dataDir}'; echo "ls: $?"; ls -a /tmp ~ /run /etc`,
    );
    expect(result.stdout).toContain("cat: 1");
    expect(result.stdout).toContain("ls: 2");
    expect(result.stderr).toMatch(/No such file or directory/);
    expect(result.stdout).not.toContain(secret);
    expect(result.stdout).not.toContain(path.basename(dataDir));
  });

  it("reaches no network, not even a server on the host's loopback", async () => {
    // The host itself reaches the server: it is there to be found.
    await new Promise<void>((resolve, reject) => net.connect(port, "127.0.0.1", resolve).on("error", reject));
    await eventually(async () => connections === 1, 2_000);
    const hostAddress = Object.values(networkInterfaces())
      .flat()
      .find((i) => i?.family === "IPv4" && !i.internal)?.address;
    const targets = [`127.0.0.1/${port}`, "1.1.1.1/53", ...(hostAddress ? [`${hostAddress}/${port}`] : [])];
    for (const target of targets) {
      const result = await runCommand(a.inside(["timeout", "5", "bash", "-c", `exec 3<>/dev/tcp/${target}`]));
      expect(result.code, target).not.toBe(0);
      expect(result.stderr, target).toMatch(/Connection refused|Network is unreachable/);
    }
    const interfaces = await inA("tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' '");
    expect(interfaces.stdout.trim()).toBe("lo");
    expect(connections).toBe(1);
  });

  it("sees neither another desk's processes nor its display", async () => {
    expect((await runCommand(b.inside(["ps", "-eo", "args"]))).stdout).toContain("sleep 31337");
    const ps = await runCommand(a.inside(["ps", "-eo", "args"]));
    expect(ps.code).toBe(0);
    expect(ps.stdout).toContain("Xvfb");
    expect(ps.stdout).not.toContain("31337");
    // B's socket is not in A's filesystem at all: not at its host path, not in A's socket directory.
    const bSocket = path.join(b.socketDir, `X${b.display.slice(1)}`);
    expect(await exists(bSocket)).toBe(true);
    const look = await inA(`test -e '${bSocket}' && echo visible; ls /tmp/.X11-unix`);
    expect(look.stdout.trim()).toBe(`X${a.display.slice(1)}`);
    // With B's cookie, the display A reaches is A's own X server, which refuses it.
    await inA("cat > ~/b-cookie", await readFile(b.xauthority));
    const withB = await inA(`XAUTHORITY=$HOME/b-cookie xdpyinfo -display ${b.display}`);
    expect(withB.code).not.toBe(0);
    expect(withB.stderr).toMatch(/unable to open display/);
    expect((await inA("xdpyinfo")).code).toBe(0);
  });

  it("contains a fork bomb at its process limit while the host keeps spawning", async (context) => {
    const bomb = await start({
      id: `${run}-bomb`,
      programs: [],
      limits: { maxProcesses: 64, cpuQuota: 0.5 },
    });
    if (!bomb.cgroup) return context.skip("no writable cgroup hierarchy: a fork bomb would not be contained");
    const bombing = spawn(...spawnArgs(bomb.inside(["bash", "-c", "f() { f | f & }; f; wait"])));
    try {
      expect(await eventually(async () => ((await bomb.counters())?.forksRefused ?? 0) > 0)).toBe(true);
      for (let i = 0; i < 5; i++) {
        expect((await runCommand({ file: "true", args: [], env: { PATH: "/usr/bin:/bin" } })).code).toBe(0);
      }
      expect((await bomb.counters())?.processes).toBeLessThanOrEqual(64);
    } finally {
      await bomb.stop();
    }
    expect(await cgroupGone(bomb.cgroup)).toBe(true);
    expect(
      await eventually(async () => bombing.exitCode !== null || bombing.signalCode !== null, 5_000),
    ).toBe(true);
  });

  it("kills a memory hog at the memory limit, and the desk lives on", async (context) => {
    const hog = await start({
      id: `${run}-hog`,
      programs: [],
      limits: { memoryBytes: 128 * 1024 * 1024, scratchBytes: 32 * 1024 * 1024 },
    });
    if (!hog.cgroup) return context.skip("no writable cgroup hierarchy: a memory hog would not be contained");
    // tail keeps the last line whole, and a gigabyte of zeros is one line.
    const result = await runCommand(
      hog.inside(["sh", "-c", 'head -c 1073741824 /dev/zero | tail >/dev/null; echo "tail: $?"']),
    );
    expect(result.stdout.trim()).toBe("tail: 137");
    expect((await hog.counters())?.oomKills).toBeGreaterThan(0);
    expect((await runCommand(hog.inside(["xdpyinfo"]))).code).toBe(0);
    await hog.stop();
  });

  it("lets a trusted client outside use the display with its cookie, and refuses one without", async () => {
    const ok = await runCommand(a.outside(["xdpyinfo"]));
    expect(ok.code).toBe(0);
    expect(ok.stdout).toMatch(/dimensions:\s+1366x768 pixels/);
    const empty = path.join(baseDir, "empty-xauthority");
    await writeFile(empty, "");
    const refused = await runCommand(a.outside(["xdpyinfo"]), { env: { XAUTHORITY: empty } });
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/unable to open display/);
    // The agent's capture path: ffmpeg x11grab grabs a frame (without MIT-SHM, which needs the
    // desk's IPC namespace: ffmpeg says so once and carries on).
    const frame = await runCommand(
      a.outside([
        "ffmpeg",
        "-loglevel",
        "error",
        "-f",
        "x11grab",
        "-video_size",
        "1366x768",
        "-i",
        a.display,
        "-frames:v",
        "1",
        "-f",
        "null",
        "-",
      ]),
    );
    expect(frame.code).toBe(0);
    // And what capture by change reads instead: the screen's file, through the desk's init.
    const screenFile = await runCommand(a.outside(["sh", "-c", 'stat -c %s "$RD_AGENT_FRAMEBUFFER"']));
    expect(screenFile.stderr).toBe("");
    expect(Number(screenFile.stdout)).toBeGreaterThan(1366 * 768 * 4);
    // The desk's own programs are up: a terminal and the editor.
    const windows = async () => (await runCommand(a.outside(["xwininfo", "-root", "-tree"]))).stdout;
    expect(
      await eventually(async () => /"Editor"/.test(await windows()) && /"xterm"/.test(await windows())),
    ).toBe(true);
  });

  it("stops leaving no process, cgroup or directory, and stops again harmlessly", async () => {
    const desk = await startDeskSandbox({ id: `${run}-stop`, baseDir, log });
    const root = path.dirname(desk.socketDir);
    expect(await exists(root)).toBe(true);
    await Promise.all([desk.stop(), desk.stop()]);
    await desk.stop();
    expect(await processStartTime(desk.pid)).toBeUndefined();
    const user = deskHostUser(desk.id);
    if (user) expect(await processesOf(user.uid)).toEqual([]);
    expect(await cgroupGone(desk.cgroup)).toBe(true);
    expect(await exists(root)).toBe(false);
  });

  it("reaps what a crashed server left behind", async () => {
    const id = `${run}-crash`;
    // A base directory of its own: reaping spares no desk in it.
    const crashBase = await mkdtemp(path.join(tmpdir(), "rd-desks-crash-"));
    const child = spawn(
      process.execPath,
      [fileURLToPath(new URL("testing/desk-child.ts", import.meta.url)), crashBase, id],
      {
        stdio: ["pipe", "pipe", "inherit"],
      },
    );
    const line = await new Promise<string>((resolve, reject) => {
      let out = "";
      child.stdout.on("data", (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes("\n")) resolve(out.split("\n")[0] ?? "");
      });
      child.once("exit", (code) => reject(new Error(`desk-child exited with ${code}`)));
    });
    const crashed = JSON.parse(line) as { pid: number; socketDir: string; cgroup: DeskCgroup | null };
    child.kill("SIGKILL");
    // --die-with-parent: the desk dies with its server...
    expect(await eventually(async () => (await processStartTime(crashed.pid)) === undefined, 5_000)).toBe(
      true,
    );
    // ...and leaves its directory and cgroup, where a straggler may still run.
    expect(await exists(crashed.socketDir)).toBe(true);
    let straggler: ReturnType<typeof spawn> | undefined;
    if (crashed.cgroup) {
      expect(await cgroupGone(crashed.cgroup)).toBe(false);
      straggler = spawn("sleep", ["600"], { stdio: "ignore" });
      for (const dir of new Set(Object.values(crashed.cgroup.dirs))) {
        await writeFile(path.join(dir, "cgroup.procs"), String(straggler.pid));
      }
    }
    expect(await reapDeskSandboxes(crashBase, log)).toEqual([id]);
    expect(await exists(path.dirname(crashed.socketDir))).toBe(false);
    expect(await cgroupGone(crashed.cgroup)).toBe(true);
    if (straggler) expect(await eventually(async () => straggler.signalCode === "SIGKILL", 5_000)).toBe(true);
    await rm(crashBase, { recursive: true, force: true });
  });
});

/** spawn()'s arguments for a Command, for a command left running in the background. */
function spawnArgs(command: { file: string; args: string[]; env: Record<string, string> }) {
  return [command.file, command.args, { env: command.env, stdio: "ignore" as const }] as const;
}
