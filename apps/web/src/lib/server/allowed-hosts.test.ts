import { describe, expect, it } from "vitest";
import { createHostCheck, hostName } from "./allowed-hosts.ts";

describe("the Host check", () => {
  it("answers to loopback names and addresses, with or without a port", () => {
    const allowed = createHostCheck({ allowed: [] });
    for (const host of ["localhost:3000", "127.0.0.1", "127.0.0.1:3000", "[::1]:3000", "LOCALHOST"]) {
      expect(allowed(host), host).toBe(true);
    }
  });

  it("refuses a rebinding attacker's name and a missing Host", () => {
    const allowed = createHostCheck({ allowed: [] });
    expect(allowed("attacker.example:3000")).toBe(false);
    expect(allowed("localhost.attacker.example")).toBe(false);
    expect(allowed(null)).toBe(false);
  });

  it("adds ORIGIN's host and RD_ALLOWED_HOSTS; * turns the check off", () => {
    const allowed = createHostCheck({ origin: "https://desk.example.com", allowed: ["support.lan"] });
    expect(allowed("desk.example.com")).toBe(true);
    expect(allowed("support.lan:3000")).toBe(true);
    expect(allowed("other.lan")).toBe(false);
    expect(createHostCheck({ allowed: ["*"] })("anything.example")).toBe(true);
  });

  it("reads a Host header's name", () => {
    expect(hostName("Example.COM.:8080")).toBe("example.com");
    expect(hostName("[::1]:3000")).toBe("[::1]");
  });
});
