/** Runs a Command (namespace-commands.ts) to completion for a test: exit code and output, never a throw. */
import { spawn } from "node:child_process";
import type { Command } from "../namespace-commands.ts";

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Written to the command's stdin, which is then closed. */
  input?: string | Buffer;
  /** Replaces variables of the command's environment (undefined removes one). */
  env?: Record<string, string | undefined>;
  /** Killed (SIGKILL) after this long. */
  timeoutMs?: number;
}

/** Output beyond this is dropped: a runaway command must not fill the test's memory. */
const MAX_OUTPUT = 1024 * 1024;

export function runCommand(command: Command, options: RunOptions = {}): Promise<RunResult> {
  const env: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...command.env, ...options.env })) {
    if (value !== undefined) env[key] = value;
  }
  const child = spawn(command.file, command.args, { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => {
    if (stdout.length < MAX_OUTPUT) stdout += chunk.toString();
  });
  child.stderr.on("data", (chunk: Buffer) => {
    if (stderr.length < MAX_OUTPUT) stderr += chunk.toString();
  });
  child.stdin.on("error", () => {});
  child.stdin.end(options.input ?? "");
  const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 20_000);
  return new Promise((resolve, reject) => {
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
