import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, describe, expect, it } from "vitest";
import { LocalStore } from "./local.ts";
import { recordingStoreSuite } from "./store-suite.ts";

const run = promisify(execFile);
const roots: string[] = [];

async function tempRoot(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "rd-recording-local-"));
  roots.push(root);
  return root;
}

afterAll(async () => {
  await Promise.all(roots.map((root) => rm(root, { recursive: true, force: true })));
});

/** Every file and directory under `dir`, hidden ones included, relative to it. */
async function listAll(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).sort();
}

describe("LocalStore", () => {
  recordingStoreSuite(async () => new LocalStore(join(await tempRoot(), "recordings")));

  it("keeps recordings private to the server's user: files 0600, directories 0700", async () => {
    const root = join(await tempRoot(), "recordings");
    await new LocalStore(root).put("t1/r1/000001.m4s", Uint8Array.of(1));
    for (const dir of [root, join(root, "t1"), join(root, "t1/r1")]) {
      expect((await stat(dir)).mode & 0o777).toBe(0o700);
    }
    expect((await stat(join(root, "t1/r1/000001.m4s"))).mode & 0o777).toBe(0o600);
  });

  it("leaves only the object behind, no temporary file", async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put("t1/r1/000001.m4s", Uint8Array.of(1));
    await store.put("t1/r1/000001.m4s", Uint8Array.of(2));
    expect(await listAll(root)).toEqual(["t1", "t1/r1", "t1/r1/000001.m4s"]);
  });

  it("removes a recording's directory on deletePrefix", async () => {
    const root = await tempRoot();
    const store = new LocalStore(root);
    await store.put("t1/r1/000001.m4s", Uint8Array.of(1));
    await store.put("t1/r2/000001.m4s", Uint8Array.of(1));
    await store.deletePrefix("t1/r1/");
    expect(await listAll(root)).toEqual(["t1", "t1/r2", "t1/r2/000001.m4s"]);
  });

  it("reports an unwritable directory as unavailable", async () => {
    const root = await tempRoot();
    // A file where the recording's directory should be: mkdir fails with ENOTDIR/EEXIST.
    const store = new LocalStore(root);
    await store.put("t1/r1", Uint8Array.of(1));
    await expect(store.put("t1/r1/000001.m4s", Uint8Array.of(1))).rejects.toMatchObject({
      name: "RecordingStoreError",
      code: "unavailable",
    });
  });

  it("reports a full disk as full and leaves nothing half-written", async (ctx) => {
    const mountpoint = join(await tempRoot(), "small");
    await mkdir(mountpoint);
    try {
      // 256 KiB of tmpfs: a real ENOSPC from the kernel, no root-only fault injection needed.
      await run("mount", ["-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", mountpoint]);
    } catch (error) {
      ctx.skip(`needs root to mount a 256 KiB tmpfs as a full disk: ${String(error).split("\n")[0]}`);
    }
    ctx.onTestFinished(async () => {
      await run("umount", [mountpoint]);
    });
    const store = new LocalStore(mountpoint);
    await store.put("t1/r1/000001.m4s", Uint8Array.of(1, 2, 3));
    const tooLarge = new Uint8Array(1024 * 1024);

    await expect(store.put("t1/r1/000002.m4s", tooLarge)).rejects.toMatchObject({ code: "full" });
    await expect(store.put("t1/r1/000001.m4s", tooLarge)).rejects.toMatchObject({ code: "full" });

    await expect(store.get("t1/r1/000002.m4s")).rejects.toMatchObject({ code: "not_found" });
    expect([...(await store.get("t1/r1/000001.m4s"))]).toEqual([1, 2, 3]);
    expect(await listAll(mountpoint)).toEqual(["t1", "t1/r1", "t1/r1/000001.m4s"]);
  });
});
