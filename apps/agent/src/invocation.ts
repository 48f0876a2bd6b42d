/**
 * How to name the agent's own commands in what it prints: the way the person started it. Through
 * npm (`npm run agent -- enroll …`, what the dashboard's enrollment dialog shows), a hint of
 * `agent run` names a command their shell does not have.
 */
export function agentCommand(args: string, env: NodeJS.ProcessEnv = process.env): string {
  return env.npm_lifecycle_event === "agent" ? `npm run agent -- ${args}` : `agent ${args}`;
}
