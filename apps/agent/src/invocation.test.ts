import { describe, expect, it } from "vitest";
import { agentCommand } from "./invocation.ts";

describe("agentCommand", () => {
  it("names the command the way it was started: through npm, or as the agent script", () => {
    expect(agentCommand("run", { npm_lifecycle_event: "agent" })).toBe("npm run agent -- run");
    expect(agentCommand("run", {})).toBe("agent run");
    // Another npm script (npm start's demo agent) is not how a person runs this one.
    expect(agentCommand("run", { npm_lifecycle_event: "start" })).toBe("agent run");
  });
});
