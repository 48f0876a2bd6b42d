import { describe, expect, it } from "vitest";
import { parseCgroupMounts, parseOwnCgroups, removeDeskCgroup } from "./cgroup.ts";

describe("cgroup discovery", () => {
  it("finds a hybrid host's v1 controllers (co-mounted or alone) and its v2 mount", () => {
    const mountinfo = [
      "30 25 0:26 / /sys/fs/cgroup/unified rw,relatime shared:10 - cgroup2 cgroup2 rw",
      "31 25 0:27 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:11 - cgroup cgroup rw,cpu,cpuacct",
      "32 25 0:28 / /sys/fs/cgroup/memory rw,relatime shared:12 - cgroup cgroup rw,memory",
      "33 25 0:29 / /sys/fs/cgroup/pids rw,relatime shared:13 - cgroup cgroup rw,pids",
      "34 25 0:30 / /sys/fs/cgroup/cpuset rw,relatime shared:14 - cgroup cgroup rw,cpuset",
      "35 25 0:31 / /mnt/with\\040space rw - tmpfs tmpfs rw",
    ].join("\n");
    expect(parseCgroupMounts(mountinfo)).toEqual({
      v2: "/sys/fs/cgroup/unified",
      v1: { cpu: "/sys/fs/cgroup/cpu,cpuacct", memory: "/sys/fs/cgroup/memory", pids: "/sys/fs/cgroup/pids" },
    });
  });

  it("finds a v2-only host's one hierarchy", () => {
    const mountinfo = "29 23 0:26 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate";
    expect(parseCgroupMounts(mountinfo)).toEqual({ v2: "/sys/fs/cgroup", v1: {} });
  });

  it("reads this process's group in each hierarchy", () => {
    const procCgroup = [
      "8:pids:/",
      "4:memory:/process_api/abc",
      "2:cpu,cpuacct:/user.slice",
      "0::/init.scope",
      "",
    ].join("\n");
    expect(parseOwnCgroups(procCgroup)).toEqual({
      v2: "/init.scope",
      v1: { pids: "/", memory: "/process_api/abc", cpu: "/user.slice" },
    });
  });
});

describe("removing a desk's cgroup", () => {
  it("refuses a directory that is not a desk's group, such as a hierarchy's root", async () => {
    const root = "/sys/fs/cgroup/pids";
    await expect(
      removeDeskCgroup({ version: 2, dirs: { memory: root, cpu: root, pids: root } }),
    ).rejects.toThrow(/not a desk's cgroup/);
  });
});
