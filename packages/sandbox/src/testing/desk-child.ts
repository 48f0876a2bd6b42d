/**
 * A server that starts one desk and then waits to be killed: the desk tests kill it with SIGKILL to
 * leave behind what a crash leaves. Usage: node desk-child.ts BASE_DIR DESK_ID. Prints the desk as
 * one JSON line once it is up.
 */
import { createLogger } from "@rd/log";
import { startDeskSandbox } from "../desk-sandbox.ts";

const [baseDir, id] = process.argv.slice(2);
if (!baseDir || !id) throw new Error("usage: desk-child.ts BASE_DIR DESK_ID");
const desk = await startDeskSandbox({
  id,
  baseDir,
  programs: [],
  log: createLogger("silent", { name: "desk-child" }),
});
console.log(JSON.stringify({ pid: desk.pid, socketDir: desk.socketDir, cgroup: desk.cgroup ?? null }));
// Stays up until killed: the open stdin keeps the event loop alive.
process.stdin.resume();
