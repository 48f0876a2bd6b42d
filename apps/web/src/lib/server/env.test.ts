import { describe, expect, it } from "vitest";
import { loadEnv } from "./env.ts";

describe("loadEnv", () => {
  it("gives the embedded single-machine defaults when nothing is set", () => {
    const env = loadEnv({});
    expect(env).toMatchObject({
      DATA_DIR: ".data",
      MIGRATIONS_DIR: "drizzle",
      COOKIE_SECURE: "auto",
      LOG_LEVEL: "info",
    });
    expect(env.DATABASE_URL).toBeUndefined(); // → embedded PGlite
    expect(env.RD_ADMIN_EMAIL).toBeUndefined(); // → the setup page
    expect(env.HOST).toBe("127.0.0.1"); // → this machine only
    expect(env.RD_ALLOWED_HOSTS).toEqual([]);
  });

  it("reads the allowed host names as a comma-separated list", () => {
    expect(loadEnv({ RD_ALLOWED_HOSTS: " desk.lan, support.example.com ,," }).RD_ALLOWED_HOSTS).toEqual([
      "desk.lan",
      "support.example.com",
    ]);
  });

  it("treats empty variables as unset", () => {
    expect(
      loadEnv({ DATABASE_URL: "", RD_ADMIN_EMAIL: " ", RD_ADMIN_PASSWORD: "" }).DATABASE_URL,
    ).toBeUndefined();
  });

  it("names every bad variable and says what it must be", () => {
    expect(() => loadEnv({ DATABASE_URL: "mysql://x", LOG_LEVEL: "loud", RD_ADMIN_EMAIL: "nope" })).toThrow(
      /DATABASE_URL: must be a postgres:\/\/ URL[\s\S]*RD_ADMIN_EMAIL: must be an email address[\s\S]*LOG_LEVEL/,
    );
  });

  it("refuses half of the admin seed", () => {
    expect(() => loadEnv({ RD_ADMIN_EMAIL: "a@b.example" })).toThrow(
      /set both RD_ADMIN_EMAIL and RD_ADMIN_PASSWORD/,
    );
  });
});
