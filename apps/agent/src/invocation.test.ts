import { describe, expect, it } from "vitest";
import { agentCommand } from "./invocation.ts";

describe("agentCommand", () => {
  it("names the command the way it was started: through npm, or as the agent script said", () => {
    const script = { RD_AGENT_SELF: "apps/agent/bin/agent" };
    expect(agentCommand("run", { npm_lifecycle_event: "agent", ...script })).toBe("npm run agent -- run");
    expect(agentCommand("run", script)).toBe("apps/agent/bin/agent run");
    expect(agentCommand("status", { RD_AGENT_SELF: "rd-agent" })).toBe("rd-agent status");
    // Another npm script (npm start's demo agent) is not how a person runs this one.
    expect(agentCommand("run", { npm_lifecycle_event: "start" })).toBe("agent run");
  });
});
