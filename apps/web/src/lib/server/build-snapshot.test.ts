import { existsSync } from "node:fs";
import { lstat, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { snapshotBuild } from "./build-snapshot.ts";

describe("snapshotBuild", () => {
  let scratch: string;
  let build: string;
  let snapshots: string;

  beforeEach(async () => {
    scratch = await mkdtemp(path.join(tmpdir(), "rd-build-snapshot-"));
    build = path.join(scratch, "build");
    snapshots = path.join(scratch, "snapshots");
    await mkdir(path.join(build, "client", "_app"), { recursive: true });
    await writeFile(path.join(build, "handler.js"), "export const handler = 1;");
    await writeFile(path.join(build, "client", "_app", "start.abc.js"), "first build");
  });
  afterEach(() => rm(scratch, { recursive: true, force: true }));

  it("serves a copy that a new build cannot change or take away", async () => {
    const snapshot = await snapshotBuild(build, snapshots, { host: "here", pid: 4242, alive: () => true });
    // A new build: the old build's files are gone, new ones in their place.
    await rm(build, { recursive: true });
    await mkdir(path.join(build, "client", "_app"), { recursive: true });
    await writeFile(path.join(build, "handler.js"), "export const handler = 2;");
    await writeFile(path.join(build, "client", "_app", "start.def.js"), "second build");

    expect(snapshot.dir).toBe(path.join(snapshots, "here-4242"));
    // Inside node_modules Node finds no package.json above: the copy says its files are modules.
    expect(JSON.parse(await readFile(path.join(snapshot.dir, "package.json"), "utf8"))).toEqual({
      type: "module",
    });
    expect(await readFile(path.join(snapshot.dir, "client", "_app", "start.abc.js"), "utf8")).toBe(
      "first build",
    );
    expect(await readFile(path.join(snapshot.dir, "handler.js"), "utf8")).toBe("export const handler = 1;");
    snapshot.remove();
    expect(existsSync(snapshot.dir)).toBe(false);
  });

  it("removes this host's copies of processes that are gone, and nothing else", async () => {
    for (const name of ["here-100", "here-200", "there-100"]) {
      await mkdir(path.join(snapshots, name), { recursive: true });
      await writeFile(path.join(snapshots, name, "handler.js"), "old");
    }
    await mkdir(path.join(snapshots, "not-a-copy"));

    await snapshotBuild(build, snapshots, { host: "here", pid: 300, alive: (pid) => pid === 200 });

    expect(existsSync(path.join(snapshots, "here-100"))).toBe(false);
    expect(existsSync(path.join(snapshots, "here-200", "handler.js"))).toBe(true);
    // Another host's process 100 may well run: its pids are not this host's to check.
    expect(existsSync(path.join(snapshots, "there-100", "handler.js"))).toBe(true);
    expect(existsSync(path.join(snapshots, "not-a-copy"))).toBe(true);
    expect(existsSync(path.join(snapshots, "here-300", "handler.js"))).toBe(true);
  });

  it("copies the files a linked build/ points to", async () => {
    const linked = path.join(scratch, "build-link");
    await symlink(build, linked);
    const snapshot = await snapshotBuild(linked, snapshots, { host: "here", pid: 600, alive: () => true });
    expect((await lstat(snapshot.dir)).isSymbolicLink()).toBe(false);
    expect(await readFile(path.join(snapshot.dir, "handler.js"), "utf8")).toBe("export const handler = 1;");
  });

  it("leaves no half copy behind when the copy fails", async () => {
    await expect(
      snapshotBuild(path.join(scratch, "no-build"), snapshots, { host: "here", pid: 700, alive: () => true }),
    ).rejects.toThrow();
    expect(existsSync(path.join(snapshots, "here-700"))).toBe(false);
  });

  it("replaces a stale copy under its own pid (a pid used again)", async () => {
    await mkdir(path.join(snapshots, "here-500"), { recursive: true });
    await writeFile(path.join(snapshots, "here-500", "leftover.js"), "from a process long gone");

    const snapshot = await snapshotBuild(build, snapshots, { host: "here", pid: 500, alive: () => true });

    expect(existsSync(path.join(snapshot.dir, "leftover.js"))).toBe(false);
    expect(existsSync(path.join(snapshot.dir, "handler.js"))).toBe(true);
  });
});
