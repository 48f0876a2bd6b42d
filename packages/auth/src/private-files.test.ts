import { chmod, lstat, mkdir, mkdtemp, readdir, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import process from "node:process";
import { createDb } from "@rd/db";
import { sql } from "drizzle-orm";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { makeDataDirPrivate, tightenTree } from "./private-files.ts";
import { resolveSecret } from "./secret-file.ts";

/** Every entry under `dir` (itself included) that group or others may use, with its mode. */
async function openToOthers(dir: string): Promise<string[]> {
  const open: string[] = [];
  const visit = async (entry: string) => {
    const stats = await lstat(entry);
    if (stats.isSymbolicLink()) return;
    if ((stats.mode & 0o077) !== 0)
      open.push(`${path.relative(dir, entry) || "."} ${(stats.mode & 0o777).toString(8)}`);
    if (stats.isDirectory()) for (const name of await readdir(entry)) await visit(path.join(entry, name));
  };
  await visit(dir);
  return open;
}

const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe("private data files", () => {
  let scratch: string;
  let umask: number;

  beforeEach(async () => {
    // The usual umask of a login shell, so nothing here passes because the machine is strict.
    umask = process.umask(0o022);
    scratch = await mkdtemp(path.join(tmpdir(), "rd-private-"));
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(scratch, { recursive: true, force: true });
  });

  it("writes the embedded database and the ticket secret owner-only, even under an open umask", async () => {
    const dataDir = path.join(scratch, "data");
    // What the dashboard's start-up writes: PGlite, migrated, then used; and the generated secret.
    const database = createDb({ dataDir: path.join(dataDir, "pglite") });
    await database.migrate();
    await database.db.execute(sql`create table later (x int)`);
    await database.db.execute(sql`checkpoint`);
    resolveSecret(undefined, dataDir);
    await database.close();

    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(path.join(dataDir, "secret"))).toBe(0o600);
    expect((await readdir(path.join(dataDir, "pglite"))).length).toBeGreaterThan(10);
    expect(await openToOthers(dataDir)).toEqual([]);
  });

  it("makes everything a server creates after its start private to its owner", async () => {
    const dataDir = path.join(scratch, "data");
    expect(await makeDataDirPrivate(dataDir)).toEqual({ fixed: 0, failed: [] });
    await mkdir(path.join(dataDir, "demo-agent"), { recursive: true });
    await writeFile(path.join(dataDir, "demo-agent", "status.json"), "{}");
    expect(await openToOthers(dataDir)).toEqual([]);
    expect(await mode(path.join(dataDir, "demo-agent", "status.json"))).toBe(0o600);
  });

  it("tightens an existing install's data directory, without following symbolic links out of it", async () => {
    const dataDir = path.join(scratch, "data");
    await mkdir(path.join(dataDir, "pglite", "base"), { recursive: true, mode: 0o755 });
    await chmod(dataDir, 0o755);
    await writeFile(path.join(dataDir, "pglite", "pg_hba.conf"), "local all all trust\n", { mode: 0o666 });
    await writeFile(path.join(dataDir, "pglite", "base", "1259"), "catalog", { mode: 0o644 });
    await writeFile(path.join(dataDir, "secret"), "s", { mode: 0o600 });
    await chmod(path.join(dataDir, "pglite", "pg_hba.conf"), 0o666);
    const outside = path.join(scratch, "outside.txt");
    await writeFile(outside, "not ours to change", { mode: 0o644 });
    await symlink(outside, path.join(dataDir, "link"));

    // data, pglite, base, pg_hba.conf, 1259; the secret was already private.
    expect(await tightenTree(dataDir)).toEqual({ fixed: 5, failed: [] });
    expect(await openToOthers(dataDir)).toEqual([]);
    expect(await mode(dataDir)).toBe(0o700);
    expect(await mode(path.join(dataDir, "pglite", "pg_hba.conf"))).toBe(0o600);
    expect(await mode(outside)).toBe(0o644);
    expect(await tightenTree(dataDir)).toEqual({ fixed: 0, failed: [] });
  });

  it("leaves a data directory that does not exist yet to whoever creates it", async () => {
    expect(await tightenTree(path.join(scratch, "absent"))).toEqual({ fixed: 0, failed: [] });
  });
});
