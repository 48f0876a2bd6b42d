import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
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
    const snapshot = await snapshotBuild(build, snapshots, 4242, () => true);
    // A new build: the old build's files are gone, new ones in their place.
    await rm(build, { recursive: true });
    await mkdir(path.join(build, "client", "_app"), { recursive: true });
    await writeFile(path.join(build, "handler.js"), "export const handler = 2;");
    await writeFile(path.join(build, "client", "_app", "start.def.js"), "second build");

    expect(snapshot.dir).toBe(path.join(snapshots, "4242"));
    expect(await readFile(path.join(snapshot.dir, "client", "_app", "start.abc.js"), "utf8")).toBe(
      "first build",
    );
    expect(await readFile(path.join(snapshot.dir, "handler.js"), "utf8")).toBe("export const handler = 1;");
    snapshot.remove();
    expect(existsSync(snapshot.dir)).toBe(false);
  });

  it("removes the copies of processes that are gone and keeps those still running", async () => {
    for (const pid of ["100", "200"]) {
      await mkdir(path.join(snapshots, pid), { recursive: true });
      await writeFile(path.join(snapshots, pid, "handler.js"), "old");
    }
    await mkdir(path.join(snapshots, "not-a-pid"));

    await snapshotBuild(build, snapshots, 300, (pid) => pid === 200);

    expect(existsSync(path.join(snapshots, "100"))).toBe(false);
    expect(existsSync(path.join(snapshots, "200", "handler.js"))).toBe(true);
    expect(existsSync(path.join(snapshots, "not-a-pid"))).toBe(true);
    expect(existsSync(path.join(snapshots, "300", "handler.js"))).toBe(true);
  });

  it("replaces a stale copy under its own pid (a pid used again)", async () => {
    await mkdir(path.join(snapshots, "500"), { recursive: true });
    await writeFile(path.join(snapshots, "500", "leftover.js"), "from a process long gone");

    const snapshot = await snapshotBuild(build, snapshots, 500, () => true);

    expect(existsSync(path.join(snapshot.dir, "leftover.js"))).toBe(false);
    expect(existsSync(path.join(snapshot.dir, "handler.js"))).toBe(true);
  });
});
