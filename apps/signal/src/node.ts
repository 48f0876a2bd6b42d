/**
 * Node entry of the signaling worker: `node apps/signal/src/node.ts` (needs DATABASE_URL: the
 * embedded PGlite belongs to the dashboard's process, which runs a worker of its own).
 */
import { availableParallelism } from "node:os";
import { setFlagsFromString } from "node:v8";
import { startNodeSignal } from "./node-server.ts";

export { startNodeSignal, type NodeSignal } from "./node-server.ts";

if (import.meta.main) {
  // Given a single core (CPU affinity or a one-CPU container), V8's parallel GC helpers only take
  // turns with the main thread and stretch each pause; one-threaded collection pauses less.
  if (availableParallelism() === 1) setFlagsFromString("--single-threaded-gc");
  const signal = await startNodeSignal({ env: process.env, ownsProcess: true });
  const stop = () => void signal.close().then(() => process.exit(0));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
}
