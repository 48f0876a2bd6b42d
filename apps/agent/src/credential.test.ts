import { chmod, mkdir, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { type Credential, readCredential, writeCredential } from "./credential.ts";

const credential: Credential = {
  server: "http://localhost:3000",
  agentId: "6f1c2c1e-8d3a-4c57-9a3e-2f7b9a1d0c11",
  secret: "s".repeat(43),
  signalUrl: "ws://localhost:8787/ws",
  name: "desk-1",
  enrolledAt: new Date(0).toISOString(),
};
const mode = async (file: string) => (await stat(file)).mode & 0o777;

describe("the agent's credential file", () => {
  let scratch: string;
  let umask: number;
  beforeEach(async () => {
    // The usual umask of a login shell, so nothing here passes because the machine is strict.
    umask = process.umask(0o022);
    scratch = await mkdtemp(path.join(tmpdir(), "rd-credential-"));
  });
  afterEach(async () => {
    process.umask(umask);
    await rm(scratch, { recursive: true, force: true });
  });

  it("is written 0600 in a new 0700 directory, and reads back", async () => {
    const file = path.join(scratch, "config", "credential.json");
    await writeCredential(file, credential);
    expect(await mode(file)).toBe(0o600);
    expect(await mode(path.dirname(file))).toBe(0o700);
    expect(await readCredential(file)).toEqual(credential);
    expect(await readdir(path.dirname(file))).toEqual(["credential.json"]);
  });

  it("tightens a configuration directory that already existed open to others", async () => {
    const dir = path.join(scratch, "config");
    await mkdir(dir);
    await chmod(dir, 0o777);
    await writeCredential(path.join(dir, "credential.json"), credential);
    expect(await mode(dir)).toBe(0o700);
    expect(await mode(path.join(dir, "credential.json"))).toBe(0o600);
  });
});
