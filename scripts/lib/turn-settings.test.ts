import { describe, expect, it } from "vitest";
import { turnSettings } from "./turn-settings.ts";

const SECRET = "0123456789abcdef0123";

describe("npm start's TURN settings", () => {
  it("run no relay unless RD_TURN=coturn", () => {
    expect(turnSettings({})).toBeUndefined();
    expect(turnSettings({ RD_TURN: "off", RD_TURN_SECRET: SECRET })).toBeUndefined();
    expect(turnSettings({ RD_TURN: "" })).toBeUndefined();
  });

  it("run coturn on this machine only while the dashboard is, on 3478, with a secret made up for the run", () => {
    const settings = turnSettings({ RD_TURN: "coturn" })!;
    expect(settings.coturn).toMatchObject({ port: 3478, listenIp: "127.0.0.1" });
    expect(settings.coturn.secret).toMatch(/^[0-9a-f]{64}$/);
    expect(settings.generatedSecret).toBe(true);
    expect(settings.urls).toBeUndefined();
  });

  it("take the secret, port, relay ports and URLs given", () => {
    const settings = turnSettings({
      RD_TURN: "coturn",
      RD_TURN_SECRET: SECRET,
      RD_TURN_PORT: "3490",
      RD_TURN_RELAY_PORTS: "40000-40100",
      RD_TURN_URLS: "turn:203.0.113.5:3490?transport=udp",
      HOST: "0.0.0.0",
    })!;
    expect(settings).toEqual({
      coturn: { port: 3490, secret: SECRET, listenIp: "0.0.0.0", minRelayPort: 40000, maxRelayPort: 40100 },
      urls: ["turn:203.0.113.5:3490?transport=udp"],
      generatedSecret: false,
    });
  });

  it("reach the relay where ORIGIN says the dashboard is, when it listens on every interface", () => {
    const settings = turnSettings({ RD_TURN: "coturn", HOST: "0.0.0.0", ORIGIN: "https://desk.example.org" });
    expect(settings?.urls).toEqual(["turn:desk.example.org:3478?transport=udp"]);
  });

  it.each([
    [{ RD_TURN: "yes" }, /RD_TURN: must be "coturn"/],
    [{ RD_TURN: "coturn", RD_TURN_SECRET: "short" }, /RD_TURN_SECRET: must be at least 16 characters/],
    [{ RD_TURN: "coturn", SIGNAL_EMBEDDED: "false" }, /RD_TURN_SECRET: set it .* on every signaling worker/],
    [{ RD_TURN: "coturn", RD_TURN_PORT: "70000" }, /RD_TURN_PORT/],
    [{ RD_TURN: "coturn", RD_TURN_RELAY_PORTS: "50000-40000" }, /RD_TURN_RELAY_PORTS: must be low-high/],
    [{ RD_TURN: "coturn", RD_TURN_URLS: "http://x" }, /RD_TURN_URLS: "http:\/\/x" is not a turn:/],
    [{ RD_TURN: "coturn", HOST: "0.0.0.0" }, /RD_TURN_URLS: HOST=0.0.0.0 lets other machines in/],
  ])("refuse %o, saying what to set", (env, message) => {
    expect(() => turnSettings(env)).toThrow(message);
  });
});
