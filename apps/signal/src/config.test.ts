import { describe, expect, it } from "vitest";
import { loadSignalEnv, turnFrom } from "./config.ts";

const SECRET = "0123456789abcdef0123";

describe("the worker's TURN settings", () => {
  it("are off unless configured", () => {
    expect(turnFrom(loadSignalEnv({}))).toBeUndefined();
    expect(turnFrom(loadSignalEnv({ RD_TURN_SECRET: "", RD_TURN_URLS: " " }))).toBeUndefined();
  });

  it("take a secret and a comma-separated list of URLs", () => {
    const env = loadSignalEnv({
      RD_TURN_SECRET: SECRET,
      RD_TURN_URLS: "turn:203.0.113.5:3478?transport=udp, turns:turn.example.org:5349?transport=tcp",
      RD_TURN_TTL_SECONDS: "300",
    });
    expect(turnFrom(env)).toEqual({
      secret: SECRET,
      urls: ["turn:203.0.113.5:3478?transport=udp", "turns:turn.example.org:5349?transport=tcp"],
      ttlSeconds: 300,
    });
  });

  it.each([
    [{ RD_TURN_SECRET: SECRET }, /RD_TURN_URLS: RD_TURN_SECRET is set: set RD_TURN_URLS too/],
    [{ RD_TURN_URLS: "turn:h:3478" }, /RD_TURN_SECRET: RD_TURN_URLS is set: set RD_TURN_SECRET too/],
    [
      { RD_TURN_SECRET: "short", RD_TURN_URLS: "turn:h:3478" },
      /RD_TURN_SECRET: must be at least 16 characters; generate one with: openssl rand -hex 32/,
    ],
    [
      { RD_TURN_SECRET: SECRET, RD_TURN_URLS: "turn:h:3478,https://h" },
      /RD_TURN_URLS\.1: must be a turn:, turns:, stun: or stuns: URI/,
    ],
    [{ RD_TURN_SECRET: SECRET, RD_TURN_URLS: "turn:h", RD_TURN_TTL_SECONDS: "3600" }, /RD_TURN_TTL_SECONDS/],
  ])("refuse %o, saying what to set", (source, message) => {
    expect(() => loadSignalEnv(source)).toThrow(message);
  });
});
