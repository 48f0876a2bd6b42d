/**
 * How long a desk sandbox takes to start (until its X server accepts connections) and to stop, on
 * this machine, with the default programs: `node packages/sandbox/bench/desk-start.ts [count]`.
 * Prints figures only; needs bubblewrap, and root for the cgroup limits.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { createLogger } from "@rd/log";
import { startDeskSandbox } from "../src/index.ts";

const count = Number(process.argv[2] ?? 10);
const baseDir = await mkdtemp(path.join(tmpdir(), "rd-desks-bench-"));
const log = createLogger("warn", { name: "bench-desk-start" });
const starts: number[] = [];
const stops: number[] = [];
let limits = "none";
try {
  for (let i = 0; i < count; i++) {
    let t = performance.now();
    const desk = await startDeskSandbox({ id: `bench-${process.pid}-${i}`, baseDir, log });
    starts.push(performance.now() - t);
    limits = desk.cgroup ? `cgroup v${desk.cgroup.version}` : "none";
    t = performance.now();
    await desk.stop();
    stops.push(performance.now() - t);
  }
} finally {
  await rm(baseDir, { recursive: true, force: true });
}

const at = (sorted: number[], q: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
const summary = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  return `p50 ${at(sorted, 0.5).toFixed(0)} ms, p90 ${at(sorted, 0.9).toFixed(0)} ms, max ${at(sorted, 1).toFixed(0)} ms`;
};
console.log(`desk sandbox, ${count} desks one after another, limits: ${limits}`);
console.log(`  start (X server ready): ${summary(starts)}`);
console.log(`  stop (all gone):        ${summary(stops)}`);
