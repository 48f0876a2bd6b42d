import { describe, expect, it } from "vitest";
import { displaysInUse } from "./display-number.ts";

describe("displaysInUse", () => {
  it("counts abstract and file X sockets, socket files and lock files", () => {
    const procNetUnix = [
      "Num       RefCount Protocol Flags    Type St Inode Path",
      "0000000000000000: 00000002 00000000 00010000 0001 01 294549 /tmp/.X11-unix/X150",
      "0000000000000000: 00000002 00000000 00010000 0001 01 294548 @/tmp/.X11-unix/X1000",
      "0000000000000000: 00000002 00000000 00010000 0001 01 294547 /run/dbus/system_bus_socket",
      "0000000000000000: 00000002 00000000 00010000 0001 01 294546 @/tmp/.X11-unix/X1001-not",
    ].join("\n");
    const used = displaysInUse(procNetUnix, ["X90", "junk"], [".X1002-lock", ".X11-unix", "X1003-lock"]);
    expect([...used].sort((a, b) => a - b)).toEqual([90, 150, 1000, 1002]);
  });
});
