/**
 * The agent's command line: `enroll` (trade a code for a credential), `run` (the long-running
 * service), `status` (what this machine's agent is doing). Errors are one sentence that says what
 * to do; exit codes: 0 ok, 1 failure, 2 usage, 3 credential refused by the server.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { createLogger } from "@rd/log";
import { loadConfig } from "./config.ts";
import { readCredential, writeCredential } from "./credential.ts";
import { enroll } from "./enroll.ts";
import { agentCommand } from "./invocation.ts";
import { runInDesk } from "./desk-run.ts";
import { runAgent } from "./service.ts";
import { parseGeometry, startVirtualDisplay } from "./virtual-display.ts";

const USAGE = `usage:
  agent enroll --server URL --code CODE [--name NAME]   enroll this machine (code from the dashboard's Agents page)
  agent run [--virtual-display WxH | --desk WxH]        run the agent on DISPLAY, on a virtual desktop of its own,
                                                        or on one in a desk sandbox (bubblewrap; what npm start's demo uses)
  agent status                                          show enrollment and connection state
environment: RD_AGENT_CONFIG_DIR, DISPLAY, RD_ICE_SERVERS, RD_AGENT_FPS, RD_AGENT_CODEC, RD_AGENT_MAX_KBPS,
             RD_AGENT_CAPTURE, RD_AGENT_CONSENT_TIMEOUT_MS, RD_AGENT_LOG_LEVEL (see the README)`;

class UsageError extends Error {}

const STOP_DEADLINE_MS = 5000;

/** Group and others get nothing of what the agent writes: its credential, its status, its desktop's files. */
const PRIVATE_UMASK = 0o077;

async function main(argv: string[]): Promise<number> {
  // First: the umask is process-wide, and inherited by what the agent starts (Xvfb, ffmpeg…).
  process.umask(PRIVATE_UMASK);
  const [command, ...rest] = argv;
  const config = loadConfig();
  const log = createLogger(config.logLevel, { name: "agent" });
  switch (command) {
    case "enroll": {
      const { values } = parseArgs({
        args: rest,
        options: { server: { type: "string" }, code: { type: "string" }, name: { type: "string" } },
      });
      if (!values.server || !values.code) throw new UsageError("enroll needs --server and --code");
      const credential = await enroll({ server: values.server, code: values.code, name: values.name });
      await writeCredential(config.credentialFile, credential);
      console.log(
        `enrolled as "${credential.name}" (${credential.agentId}); credential in ${config.credentialFile}`,
      );
      console.log(`start it with: ${agentCommand("run")} (in the desktop session it should share)`);
      return 0;
    }
    case "run": {
      const { values } = parseArgs({
        args: rest,
        options: { "virtual-display": { type: "string" }, desk: { type: "string" } },
      });
      const credential = await readCredential(config.credentialFile);
      if (values.desk) {
        if (values["virtual-display"])
          throw new UsageError("run takes --virtual-display or --desk, not both");
        parseGeometry(values.desk); // a bad size is a usage error before anything starts
        return runInDesk({
          resolution: values.desk,
          configDir: config.configDir,
          cli: import.meta.filename,
          log,
        });
      }
      // A desktop of its own (the demo agent, interview desks): Xvfb + fluxbox + a terminal.
      const desktop = values["virtual-display"]
        ? await startVirtualDisplay({ ...parseGeometry(values["virtual-display"]), terminal: ["bash"] })
        : undefined;
      if (desktop) {
        // nut-js opens the display named by the environment, with the cookie the environment
        // names, so the process's own DISPLAY and XAUTHORITY follow. The file's path is no secret
        // (only its owner can read it): logged, it lets a test on this machine use the desktop too.
        process.env.DISPLAY = desktop.display;
        process.env.XAUTHORITY = desktop.xauthority;
        log.info({ display: desktop.display, xauthority: desktop.xauthority }, "virtual desktop started");
      }
      try {
        const agent = await runAgent(
          desktop ? { ...config, display: desktop.display, framebuffer: desktop.framebuffer } : config,
          credential,
          log,
        );
        const stop = () => void agent.stop();
        process.once("SIGINT", stop);
        process.once("SIGTERM", stop);
        // A desk's agent is its server's child: if the server dies (a crash, SIGKILL), nothing
        // would stop it, and it would knock on the worker forever. Its parent changing says so.
        if (process.env.RD_AGENT_EXIT_WITH_PARENT === "true") {
          const parent = process.ppid;
          setInterval(() => {
            if (process.ppid !== parent) {
              log.warn({ parent }, "the server that started this agent is gone; stopping");
              stop();
            }
          }, 1000).unref();
        }
        const code = await agent.done;
        // Stopped (by a signal, or because the server refused the credential): whatever native
        // handle is left (a peer's sockets, the X connection) must not keep the process alive.
        setTimeout(() => process.exit(code), STOP_DEADLINE_MS).unref();
        return code;
      } finally {
        await desktop?.close();
      }
    }
    case "status": {
      parseArgs({ args: rest, options: {} });
      const credential = await readCredential(config.credentialFile);
      console.log(`enrolled:  ${credential.name} (${credential.agentId}) with ${credential.server}`);
      console.log(`signaling: ${credential.signalUrl}`);
      const status = await readFile(`${config.configDir}/status.json`, "utf8")
        .then(
          (text) =>
            JSON.parse(text) as {
              pid: number;
              online: boolean;
              sessions: string[];
              lastProblem?: string;
              updatedAt: string;
            },
        )
        .catch(() => undefined);
      const alive = status ? isAlive(status.pid) : false;
      if (!status || !alive) console.log(`running:   no (start it with: ${agentCommand("run")})`);
      else {
        console.log(`running:   yes (pid ${status.pid}), ${status.online ? "online" : "offline"}`);
        console.log(`sessions:  ${status.sessions.length || "none"}`);
        if (status.lastProblem) console.log(`problem:   ${status.lastProblem}`);
      }
      return 0;
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      console.log(USAGE);
      return command ? 0 : 2;
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

try {
  process.exitCode = await main(process.argv.slice(2));
} catch (error) {
  if (error instanceof UsageError || (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS")) {
    console.error(`agent: ${(error as Error).message}\n\n${USAGE}`);
    process.exitCode = 2;
  } else {
    console.error(`agent: ${(error as Error).message}`);
    process.exitCode = 1;
  }
}
