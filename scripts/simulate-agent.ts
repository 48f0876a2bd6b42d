/**
 * A protocol-level agent simulator, until the real agent (apps/agent) lands: enrolls with a code
 * from the dashboard, connects to the signaling worker, stays online (answering heartbeats), and
 * answers session requests (accept, deny, or ask-then-accept). Ctrl+C takes it offline.
 *
 *   node scripts/simulate-agent.ts --server http://localhost:3000 --code ABCD-EFGH-JKMN-PQRS [--name "Front desk"] [--answer accept|deny|prompt]
 */
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import WebSocket from "ws";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "http://localhost:3000" },
    code: { type: "string" },
    name: { type: "string", default: `Simulated ${hostname()}` },
    answer: { type: "string", default: "prompt" },
  },
});
const say = (message: string) => console.log(`[agent-sim] ${message}`);
if (!values.code) {
  say(
    "usage: node scripts/simulate-agent.ts --server URL --code CODE   (create the code on the Agents page)",
  );
  process.exit(2);
}
if (!["accept", "deny", "prompt"].includes(values.answer!)) {
  say(`--answer must be accept, deny or prompt, not "${values.answer}"`);
  process.exit(2);
}

let enrolled: { agentId: string; secret: string; signalUrl: string };
try {
  const response = await fetch(new URL("/api/agents/enroll", values.server), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      code: values.code,
      name: values.name,
      hostname: hostname(),
      os: process.platform,
      version: "simulator",
    }),
  });
  const body = await response.json();
  if (!response.ok) {
    say(`enrollment refused: ${body.error?.message ?? response.status}`);
    process.exit(1);
  }
  enrolled = body;
} catch (error) {
  say(`cannot reach ${values.server}: ${(error as Error).message}. Is the dashboard running (npm start)?`);
  process.exit(1);
}
say(`enrolled as ${enrolled.agentId}; connecting to ${enrolled.signalUrl}`);

const ws = new WebSocket(enrolled.signalUrl);
const send = (message: object) => ws.send(JSON.stringify(message));
ws.on("open", () =>
  send({
    type: "presence/hello",
    v: 1,
    auth: { kind: "agent", agentId: enrolled.agentId, secret: enrolled.secret },
  }),
);
ws.on("message", (data) => {
  const message = JSON.parse(String(data));
  switch (message.type) {
    case "presence/welcome":
      return say("online — watch the Agents page; Ctrl+C to go offline");
    case "heartbeat/ping":
      return send({ type: "heartbeat/pong", t: message.t });
    case "session/request":
      say(
        `${message.technician.name} <${message.technician.email}> asks to connect (session ${message.sessionId})`,
      );
      if (values.answer === "deny")
        return send({ type: "session/deny", sessionId: message.sessionId, reason: "denied_by_user" });
      if (values.answer === "prompt") send({ type: "session/prompt", sessionId: message.sessionId });
      return setTimeout(
        () => send({ type: "session/accept", sessionId: message.sessionId }),
        values.answer === "prompt" ? 1500 : 0,
      );
    case "session/state":
      return say(
        `session ${message.sessionId}: ${message.status}${message.reason ? ` (${message.reason})` : ""}`,
      );
    default:
      return say(`received ${message.type}`);
  }
});
ws.on("close", (code, reason) => {
  say(`disconnected (${code}${reason.length ? `: ${reason}` : ""})`);
  process.exit(code === 1000 ? 0 : 1);
});
ws.on("error", (error) => say(`connection problem: ${error.message}`));
process.on("SIGINT", () => ws.close(1000));
