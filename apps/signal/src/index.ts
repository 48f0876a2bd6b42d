/** @rd/signal: the signaling worker's runtime-neutral parts. Entries: ./node.ts, ./deno.ts. */
export { createWorker, type Worker, type WorkerOptions } from "./worker.ts";
export { createSignalApp } from "./app.ts";
export { InProcessBus, channels, type Bus, type BusEnvelope } from "./bus.ts";
export { SignalHub, type PeerSocket } from "./hub.ts";
export { DEFAULT_TUNING, type SignalTuning } from "./config.ts";
