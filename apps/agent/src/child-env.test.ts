import { describe, expect, it } from "vitest";
import { childEnv, useXAuthority, xAuthorityFor } from "./child-env.ts";

const agentEnv = {
  PATH: "/usr/bin:/bin",
  HOME: "/home/agent",
  LANG: "C.UTF-8",
  LC_CTYPE: "C.UTF-8",
  XAUTHORITY: "/run/user/1000/gdm/Xauthority",
  DISPLAY: ":0",
  RD_SECRET: "signing key",
  RD_ADMIN_PASSWORD: "hunter2",
  DATABASE_URL: "postgres://u:p@db/rd",
  RD_AGENT_CONFIG_DIR: "/home/agent/.config/remote-desk-agent",
  SSH_AUTH_SOCK: "/tmp/ssh-agent.sock",
};

describe("the environment of the agent's programs", () => {
  it("passes PATH, HOME and the locale, and nothing else of the agent's own", () => {
    expect(childEnv(undefined, agentEnv)).toEqual({
      PATH: "/usr/bin:/bin",
      HOME: "/home/agent",
      LANG: "C.UTF-8",
      LC_CTYPE: "C.UTF-8",
    });
  });

  it("names the display an X client is for, with the Xauthority the agent was given", () => {
    expect(childEnv(":0", agentEnv)).toMatchObject({
      DISPLAY: ":0",
      XAUTHORITY: "/run/user/1000/gdm/Xauthority",
    });
    expect(childEnv(":0", { PATH: "/bin" })).toEqual({ PATH: "/bin", DISPLAY: ":0" });
  });

  it("uses the cookie of a display this process started, until the display is forgotten", () => {
    const forget = useXAuthority(":77", "/tmp/rd-xauth-test/Xauthority");
    try {
      expect(childEnv(":77", agentEnv).XAUTHORITY).toBe("/tmp/rd-xauth-test/Xauthority");
      expect(xAuthorityFor(":0", agentEnv)).toBe("/run/user/1000/gdm/Xauthority");
    } finally {
      forget();
    }
    expect(childEnv(":77", agentEnv).XAUTHORITY).toBe("/run/user/1000/gdm/Xauthority");
  });
});
