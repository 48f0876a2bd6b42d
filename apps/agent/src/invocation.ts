/**
 * How to name the agent's own commands in what it prints: the way the person started it. Through
 * npm (`npm run agent -- enroll …`, what the dashboard's enrollment dialog shows), or through its
 * script (bin/agent says how it was called: `rd-agent` when installed, else the path typed); a
 * hint naming a command their shell does not have sends them nowhere.
 */
export function agentCommand(args: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.npm_lifecycle_event === "agent") return `npm run agent -- ${args}`;
  return `${env.RD_AGENT_SELF || "agent"} ${args}`;
}
