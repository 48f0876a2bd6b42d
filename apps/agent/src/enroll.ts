/**
 * `agent enroll`: trades a one-time enrollment code from the dashboard for this agent's id and
 * secret (POST /api/agents/enroll) and stores them in the credential file.
 */
import { hostname, platform, release } from "node:os";
import type { Credential } from "./credential.ts";

export const AGENT_VERSION = "0.1.0";

export interface EnrollOptions {
  server: string;
  code: string;
  name?: string;
}

export async function enroll({ server, code, name }: EnrollOptions): Promise<Credential> {
  let url: URL;
  try {
    url = new URL("/api/agents/enroll", server);
  } catch {
    throw new Error(`--server must be the dashboard's URL, like http://localhost:3000 (got "${server}")`);
  }
  const agentName = name ?? hostname();
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        code,
        name: agentName,
        hostname: hostname(),
        os: `${platform()} ${release()}`.slice(0, 100),
        version: AGENT_VERSION,
      }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new Error(`cannot reach ${url.origin}: ${(error as Error).message}. Is the dashboard running?`, {
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as {
    agentId?: string;
    secret?: string;
    signalUrl?: string;
    error?: { message?: string };
  };
  if (!response.ok || !body.agentId || !body.secret || !body.signalUrl) {
    throw new Error(`enrollment refused: ${body.error?.message ?? `HTTP ${response.status}`}`);
  }
  return {
    server: url.origin,
    agentId: body.agentId,
    secret: body.secret,
    signalUrl: body.signalUrl,
    name: agentName,
    enrolledAt: new Date().toISOString(),
  };
}
