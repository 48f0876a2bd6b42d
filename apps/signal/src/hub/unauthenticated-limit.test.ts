import { describe, expect, it } from "vitest";
import { UnauthenticatedLimit } from "./unauthenticated-limit.ts";

describe("UnauthenticatedLimit", () => {
  it("refuses an address's connection past the cap and admits it again once one is released", () => {
    const limit = new UnauthenticatedLimit(2);
    const first = limit.admit("203.0.113.7");
    expect(limit.admit("203.0.113.7")).not.toBeNull();
    expect(limit.admit("203.0.113.7")).toBeNull();
    // Another address is not affected.
    expect(limit.admit("198.51.100.1")).not.toBeNull();
    first!();
    expect(limit.admit("203.0.113.7")).not.toBeNull();
    expect(limit.size).toBe(3);
  });

  it("gives a slot back once however often its release is called", () => {
    const limit = new UnauthenticatedLimit(2);
    const release = limit.admit("203.0.113.7")!;
    limit.admit("203.0.113.7");
    release();
    release();
    expect(limit.size).toBe(1);
    expect(limit.admit("203.0.113.7")).not.toBeNull();
    expect(limit.admit("203.0.113.7")).toBeNull();
  });

  it("counts every address of one IPv6 /64 as one client, and an IPv4-mapped address as IPv4", () => {
    const limit = new UnauthenticatedLimit(2);
    expect(limit.admit("2001:db8:1:2::1")).not.toBeNull();
    expect(limit.admit("2001:db8:1:2:ffff:ffff:ffff:fffe")).not.toBeNull();
    expect(limit.admit("2001:0db8:0001:0002:0:0:0:9")).toBeNull();
    expect(limit.admit("2001:db8:1:3::1")).not.toBeNull();
    limit.admit("192.0.2.1");
    limit.admit("::ffff:192.0.2.1");
    expect(limit.admit("192.0.2.1")).toBeNull();
  });
});
