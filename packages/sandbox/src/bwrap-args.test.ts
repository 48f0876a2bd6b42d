import { describe, expect, it } from "vitest";
import { type BwrapPlan, bwrapArgs, ETC_ENTRIES, forbiddenMasks, isWithin } from "./bwrap-args.ts";

const plan = (overrides: Partial<BwrapPlan> = {}): BwrapPlan => ({
  hostRoot: [
    { path: "/bin", kind: "symlink", target: "usr/bin" },
    { path: "/lib", kind: "symlink", target: "usr/lib" },
    { path: "/lib64", kind: "dir" },
  ],
  forbidden: [],
  x11Dir: "/tmp/rd-desks/d1/x11",
  xauthority: "/tmp/rd-desks/d1/Xauthority",
  etcDir: "/tmp/rd-desks/d1/etc",
  scratchBytes: 1024,
  env: { HOME: "/home/desk", DISPLAY: ":1000" },
  infoFd: 4,
  command: ["bash", "-c", "true"],
  ...overrides,
});

/** The host paths bound into the sandbox: the source of every --bind/--ro-bind(-try). */
function boundSources(args: string[]): string[] {
  return args.flatMap((arg, i) => (/^--(ro-)?bind(-try)?$/.test(arg) ? [args[i + 1] ?? ""] : []));
}

describe("bwrapArgs", () => {
  it("binds nothing of the host but /usr, the root's real directories, listed /etc entries and the desk's own files", () => {
    const allowed = ["/usr", "/lib64", "/dev/null", ...ETC_ENTRIES, "/tmp/rd-desks/d1"];
    for (const source of boundSources(bwrapArgs(plan()))) {
      expect(
        allowed.some((a) => isWithin(source, a)),
        source,
      ).toBe(true);
    }
    expect(bwrapArgs(plan())).toEqual(expect.arrayContaining(["--symlink", "usr/bin", "/bin"]));
  });

  it("makes every namespace its own, drops every capability and dies with its parent", () => {
    const args = bwrapArgs(plan());
    for (const flag of [
      "--unshare-all",
      "--unshare-user",
      "--disable-userns",
      "--new-session",
      "--die-with-parent",
    ]) {
      expect(args).toContain(flag);
    }
    expect(args).not.toContain("--share-net");
    expect(args.join(" ")).toContain("--cap-drop ALL");
  });

  it("gives the sandbox its own environment only", () => {
    const args = bwrapArgs(plan());
    const clear = args.indexOf("--clearenv");
    expect(clear).toBeGreaterThan(-1);
    expect(args.indexOf("--setenv")).toBeGreaterThan(clear);
    expect(args.filter((a) => a === "--setenv")).toHaveLength(2);
  });

  it("ends with the command after --", () => {
    expect(bwrapArgs(plan()).slice(-4)).toEqual(["--", "bash", "-c", "true"]);
  });
});

describe("forbidden paths", () => {
  it("masks a forbidden directory inside a bound tree with an empty tmpfs, and a file with /dev/null", () => {
    const masks = forbiddenMasks(
      plan({
        forbidden: [
          { path: "/usr/local/share/rd-data", kind: "dir" },
          { path: "/etc/X11/secret.key", kind: "file" },
        ],
      }),
    );
    expect(masks).toEqual([
      "--tmpfs",
      "/usr/local/share/rd-data",
      "--ro-bind",
      "/dev/null",
      "/etc/X11/secret.key",
    ]);
  });

  it("needs no mask for a path nothing binds", () => {
    expect(forbiddenMasks(plan({ forbidden: [{ path: "/srv/rd/.data", kind: "dir" }] }))).toEqual([]);
  });

  it("refuses a forbidden path that holds a tree every desk needs", () => {
    expect(() => forbiddenMasks(plan({ forbidden: [{ path: "/", kind: "dir" }] }))).toThrow(/holds \/usr/);
  });

  it("refuses a missing forbidden path inside a bound tree, which could appear later unmasked", () => {
    expect(() =>
      forbiddenMasks(plan({ forbidden: [{ path: "/usr/share/rd-data", kind: "missing" }] })),
    ).toThrow(/does not exist yet/);
  });

  it("tells a path inside another from a sibling with the same prefix", () => {
    expect(isWithin("/usr/lib", "/usr")).toBe(true);
    expect(isWithin("/usr", "/usr")).toBe(true);
    expect(isWithin("/usrlocal", "/usr")).toBe(false);
    expect(isWithin("/", "/usr")).toBe(false);
  });
});
