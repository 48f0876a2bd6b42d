/**
 * `npm run bench:recording`: what recording a session costs the recorder, on the product's own
 * parts. A sender child process runs N agents — the agent's AgentPeer and VideoSource, each playing
 * a clip encoded up front with the agent's encoder settings (recording/clips.ts) — and this process
 * records each as the recorder does (recording/recorder.ts: RecorderPeer → Segmenter →
 * sealSegment → LocalStore, no re-encoding), with offers and candidates carried over the IPC
 * channel instead of the signaling worker. It measures
 *
 * - per workload (static desktop, busy terminal, 1080p motion), one session: the recorder's CPU,
 *   and the storage it writes per hour of recording against the stream's own size;
 * - on the busy terminal, sessions recorded at once (BENCH_SESSIONS): the recorder's CPU per
 *   session and frames lost (sent by the agents, not found in the stored segments), until one is
 *   lost, the machine's cores are used up, or the time budget is spent;
 *
 * and prints them beside the issue's targets. Prints figures; asserts nothing.
 *
 * Knobs: SECONDS (measured window per run, 10), WARMUP (seconds before it, 3), BENCH_SESSIONS
 * (session counts on the busy terminal, "5,10,15,20,25,30"), BENCH_WORKLOADS (the one-session
 * rows, e.g. "terminal"; all three by default), BUDGET_SECONDS (no new run starts after this, 170).
 */
import { type ChildProcess, fork } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { setTimeout as sleep } from "node:timers/promises";
import { createLogger } from "@rd/log";
import { createKeyring, LocalStore, SEGMENT_MAX_MS } from "@rd/recording";
import { stopProcess } from "./media/processes.ts";
import {
  AGENT_FPS,
  AGENT_MAX_KBPS,
  DESCRIPTIONS,
  encodeClip,
  WORKLOADS,
  type WorkloadName,
} from "./recording/clips.ts";
import type { RecorderMessage, SenderMessage, SentCounts } from "./recording/messages.ts";
import { BenchRecording, type StoredRecording } from "./recording/recorder.ts";
import { wholeNumber } from "./env.ts";

const SECONDS = wholeNumber("SECONDS", 10);
const WARMUP = wholeNumber("WARMUP", 3, 0);
const BUDGET_SECONDS = wholeNumber("BUDGET_SECONDS", 170);
const SESSION_STEPS = sessionSteps();
const SELECTED = selectedWorkloads();

/** The issue's targets. */
const CPU_TARGET_CORES = 0.05;
const STORAGE_TARGET_OVERHEAD = 0.05;
const SESSIONS_TARGET = 10;

/** ICE and DTLS on loopback take well under a second each; many at once on a busy machine, longer. */
const CONNECT_TIMEOUT_MS = 30_000;
/** After the agents stop: the last packets land and the assembler's loss wait (300 ms) runs out. */
const DRAIN_MS = 1000;
/** The sender child's niceness (the bench's own priority is 0). */
const SENDER_NICE = 10;
/** How long this process is watched with no session, for its baseline CPU. */
const IDLE_SECONDS = 3;
/** The unreported first run's window. */
const WARMUP_RUN_SECONDS = 3;
/** Recorder and sender together above this share of the machine's cores: it is saturated. */
const SATURATED_SHARE = 0.9;

const senderScript = path.join(import.meta.dirname, "recording/sender.ts");
const log = (message: string) => process.stderr.write(`[bench:recording] ${message}\n`);

function sessionSteps(): number[] {
  const text = process.env.BENCH_SESSIONS ?? "5,10,15,20,25,30";
  const steps = text.split(",").map((s) => Number(s.trim()));
  if (steps.some((n) => !Number.isInteger(n) || n < 1 || n > 100)) {
    console.error(`BENCH_SESSIONS takes session counts from 1 to 100, like 5,10,20 (got "${text}").`);
    process.exit(2);
  }
  return steps.sort((a, b) => a - b);
}

function selectedWorkloads(): WorkloadName[] {
  const names = process.env.BENCH_WORKLOADS?.split(",").map((s) => s.trim()) ?? WORKLOADS;
  const unknown = names.filter((n) => !WORKLOADS.includes(n as WorkloadName));
  if (unknown.length) {
    console.error(`BENCH_WORKLOADS takes ${WORKLOADS.join(", ")} (got "${unknown.join(", ")}").`);
    process.exit(2);
  }
  return names as WorkloadName[];
}

// ---- one run: N sessions of one workload ---------------------------------------------------------

interface Run {
  workload: WorkloadName;
  sessions: number;
  /** Until every agent reported its media path up, ms. */
  connectMs: number;
  windowSeconds: number;
  /** CPU over the window, cores: this process (the recorder) and the sender child. */
  recorderCores: number;
  senderCores: number;
  /** The recorder's event-loop delay from every session up to the agents' stop, p99 and max, ms. */
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /**
   * Over the same time: how long the recorder's main thread waited for a core while runnable, ms
   * per second, and the share of time some task on the machine did (PSI "some"): other work.
   */
  waitedMsPerSecond: number;
  cpuPressure: number;
  sent: SentCounts;
  assembled: number;
  unreadable: number;
  stored: StoredRecording;
  /** Sessions whose frames did not all reach the store. */
  lossySessions: number;
  /** Datagrams the kernel dropped for a full socket receive buffer, machine-wide, during the run. */
  udpDrops: number;
  failures: string[];
}

const keyring = createKeyring(randomBytes(32).toString("hex"));
const quiet = createLogger("warn", { bench: "recording" });
const children = new Set<ChildProcess>();

async function record(
  workload: WorkloadName,
  clipFile: string,
  sessions: number,
  dir: string,
  seconds = SECONDS,
): Promise<Run> {
  const store = new LocalStore(path.join(dir, `${workload}-${sessions}`));
  const udpDropsBefore = udpReceiveBufferErrors();
  const child = fork(senderScript, [clipFile, workload, String(sessions)], {
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  children.add(child);
  // The agents would run on other machines: here they yield the cores to the recorder.
  if (child.pid) os.setPriority(child.pid, SENDER_NICE);
  const send = (message: RecorderMessage) => {
    if (child.connected) child.send(message);
  };
  const recordings = new Map<number, { recording: BenchRecording; accepted: Promise<void> }>();
  const connected = new Set<number>();
  const failed = new Set<number>();
  const failures: string[] = [];
  const fail = (session: number, why: unknown) => {
    failed.add(session);
    failures.push(`session ${session + 1}: ${why instanceof Error ? why.message : String(why)}`);
  };
  const replies = new Map<string, (message: SenderMessage) => void>();
  let exited: string | undefined;

  child.on("message", (message: SenderMessage) => {
    switch (message.type) {
      case "offer": {
        const { session } = message;
        // The agent offers again only to restart ICE; a recording is not set up twice here.
        if (recordings.has(session)) return fail(session, "the agent restarted ICE");
        const recording = new BenchRecording({
          key: keyring.newRecordingKey().key,
          store,
          log: quiet.child({ session }),
          onCandidate: (candidate) => send({ type: "candidate", session, candidate }),
        });
        const accepted = recording
          .acceptOffer(message.sdp)
          .then((sdp) => send({ type: "answer", session, sdp }));
        accepted.catch((error: unknown) => fail(session, error));
        recordings.set(session, { recording, accepted });
        return;
      }
      case "candidate": {
        const entry = recordings.get(message.session);
        void entry?.accepted
          .then(() => entry.recording.addCandidate(message.candidate))
          .catch((error: unknown) => fail(message.session, error));
        return;
      }
      case "connected":
        connected.add(message.session);
        return;
      case "failed":
        return fail(message.session, message.reason);
      default:
        replies.get(message.type)?.(message);
        replies.delete(message.type);
    }
  });
  child.once("exit", (code, signal) => {
    exited = `the sender exited (${signal ?? code})`;
    for (const reply of replies.values()) reply({ type: "stopped", sent: [] });
  });
  const ask = <T extends "cpu" | "stopped">(message: RecorderMessage, type: T) =>
    new Promise<Extract<SenderMessage, { type: T }>>((resolve, reject) => {
      if (exited) return reject(new Error(exited));
      replies.set(type, (reply) =>
        exited ? reject(new Error(exited)) : resolve(reply as Extract<SenderMessage, { type: T }>),
      );
      send(message);
    });

  try {
    const startedAt = performance.now();
    while (connected.size + failed.size < sessions && !exited) {
      if (performance.now() - startedAt > CONNECT_TIMEOUT_MS) {
        throw new Error(`${sessions - connected.size} of ${sessions} sessions did not connect in time`);
      }
      await sleep(50);
    }
    if (exited) throw new Error(exited);
    const connectMs = performance.now() - startedAt;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    loop.enable();
    const contentionBefore = {
      at: performance.now(),
      waitedNs: mainThreadWaitNs(),
      pressureUs: cpuPressureUs(),
    };
    await sleep(WARMUP * 1000);

    const cpuBefore = process.cpuUsage();
    const senderBefore = await ask({ type: "cpu" }, "cpu");
    const windowStart = performance.now();
    await sleep(seconds * 1000);
    const cpu = process.cpuUsage(cpuBefore);
    const senderAfter = await ask({ type: "cpu" }, "cpu");
    const windowSeconds = (performance.now() - windowStart) / 1000;

    const { sent } = await ask({ type: "stop" }, "stopped");
    loop.disable();
    const contendedMs = performance.now() - contentionBefore.at;
    const waitedMsPerSecond = (mainThreadWaitNs() - contentionBefore.waitedNs) / 1e6 / (contendedMs / 1000);
    const cpuPressure = (cpuPressureUs() - contentionBefore.pressureUs) / 1e3 / contendedMs;
    await sleep(DRAIN_MS);
    const entries = [...recordings.values()].map((e) => e.recording);
    await Promise.all(entries.map((r) => r.finish()));
    for (const [session, { recording }] of recordings) {
      if (recording.failure) failures.push(`session ${session + 1}: ${recording.failure}`);
    }
    sent.forEach((s, session) => {
      if (s.frames !== s.sourceFrames)
        failures.push(
          `session ${session + 1}: the player sent ${s.frames} frames, the VideoSource ${s.sourceFrames}`,
        );
    });
    const stored = await Promise.all(
      Array.from({ length: sessions }, (_, session) => recordings.get(session)?.recording.verify()),
    );
    const none: StoredRecording = { segments: 0, frames: 0, bytes: 0, durationMs: 0 };
    const cores = (micros: number) => micros / 1e6 / windowSeconds;
    return {
      workload,
      sessions,
      connectMs,
      windowSeconds,
      recorderCores: cores(cpu.user + cpu.system),
      senderCores: cores(senderAfter.user + senderAfter.system - senderBefore.user - senderBefore.system),
      loopDelayP99Ms: loop.percentile(99) / 1e6,
      loopDelayMaxMs: loop.max / 1e6,
      waitedMsPerSecond,
      cpuPressure,
      sent: sumSent(sent),
      assembled: entries.reduce((sum, r) => sum + r.framesAssembled, 0),
      unreadable: entries.reduce((sum, r) => sum + r.framesUnreadable, 0),
      stored: stored.reduce<StoredRecording>(
        (sum, s) => ({
          segments: sum.segments + (s?.segments ?? 0),
          frames: sum.frames + (s?.frames ?? 0),
          bytes: sum.bytes + (s?.bytes ?? 0),
          durationMs: sum.durationMs + (s?.durationMs ?? 0),
        }),
        none,
      ),
      lossySessions: sent.filter((s, i) => s.frames !== (stored[i]?.frames ?? 0)).length,
      udpDrops: udpReceiveBufferErrors() - udpDropsBefore,
      failures,
    };
  } finally {
    await stopProcess(child);
    children.delete(child);
    await Promise.all([...recordings.values()].map((e) => e.recording.finish().catch(() => {})));
  }
}

/**
 * The kernel's count of UDP datagrams dropped because the receiving socket's buffer was full
 * (/proc/net/snmp, Udp RcvbufErrors): where RTP goes missing when a process reads too late.
 */
function udpReceiveBufferErrors(): number {
  const lines = readFileSync("/proc/net/snmp", "utf8")
    .split("\n")
    .filter((line) => line.startsWith("Udp:"));
  const [names, values] = lines.map((line) => line.split(/\s+/));
  const at = names?.indexOf("RcvbufErrors") ?? -1;
  return at > 0 ? Number(values?.[at] ?? NaN) : NaN;
}

/** /proc/self/schedstat's second field: the main thread's time runnable but not running, ns. */
function mainThreadWaitNs(): number {
  try {
    return Number(readFileSync("/proc/self/schedstat", "utf8").split(" ")[1]);
  } catch {
    return NaN;
  }
}

/** Pressure stall information: µs in which some runnable task waited for a CPU, machine-wide. */
function cpuPressureUs(): number {
  try {
    return Number(/^some .*total=(\d+)/m.exec(readFileSync("/proc/pressure/cpu", "utf8"))?.[1] ?? NaN);
  } catch {
    return NaN;
  }
}

function sumSent(sent: SentCounts[]): SentCounts {
  const sum: SentCounts = {
    frames: 0,
    bytes: 0,
    keyframes: 0,
    keyframeBytes: 0,
    encoderStarts: 0,
    sourceFrames: 0,
  };
  for (const s of sent) for (const key of Object.keys(sum) as (keyof SentCounts)[]) sum[key] += s[key];
  return sum;
}

// ---- report ----------------------------------------------------------------------------------------

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");
const lost = (run: Run) => run.sent.frames - run.stored.frames;
/** Per session, per hour of recording. */
const mbPerHour = (bytes: number, run: Run) => bytes / 1e6 / (run.stored.durationMs / 3.6e6);
const streamKbps = (run: Run) => (run.sent.bytes * 8) / run.stored.durationMs;
const overhead = (run: Run) => run.stored.bytes / run.sent.bytes - 1;
const saturated = (run: Run) =>
  run.recorderCores + run.senderCores >= SATURATED_SHARE * os.availableParallelism();

function workloadRow(run: Run): string {
  const extraKbps = ((run.stored.bytes - run.sent.bytes) * 8) / run.stored.durationMs;
  const fps = (run.stored.frames / run.stored.durationMs) * 1000;
  return (
    `| ${DESCRIPTIONS[run.workload]} | ${fixed(streamKbps(run))} kbit/s, ${fixed(fps, 1)} frames/s, ` +
    `${run.sent.keyframes} keyframes (${fixed((run.sent.keyframeBytes / run.sent.bytes) * 100)} % of its bytes) | ` +
    `${fixed(run.recorderCores, 3)} | ${fixed(mbPerHour(run.stored.bytes, run), 1)} | ` +
    `${fixed(mbPerHour(run.sent.bytes, run), 1)} | ${overhead(run) >= 0 ? "+" : ""}${fixed(overhead(run) * 100, 1)} % ` +
    `(${extraKbps >= 0 ? "+" : ""}${fixed(extraKbps, 1)} kbit/s) | ${run.sent.frames} / ${lost(run)} | ${run.stored.segments} |`
  );
}

function sessionsRow(run: Run): string {
  const restarts = run.sent.encoderStarts - run.sessions;
  const notes = [
    run.lossySessions ? `${run.lossySessions} sessions lost frames` : "",
    run.sent.frames !== run.assembled ? `${run.sent.frames - run.assembled} not assembled` : "",
    run.assembled !== run.stored.frames ? `${run.assembled - run.stored.frames} assembled, not stored` : "",
    restarts ? `${restarts} keyframe requests (PLI) obeyed` : "",
    saturated(run) ? "cores used up" : "",
    run.failures.length ? `${run.failures.length} failures` : "",
  ].filter(Boolean);
  return (
    `| ${run.sessions} | ${fixed(run.recorderCores, 2)} | ${fixed(run.recorderCores / run.sessions, 3)} | ` +
    `${fixed(run.senderCores, 2)} | ${fixed(run.waitedMsPerSecond, 0)} | ${fixed(run.cpuPressure * 100)} % | ` +
    `${fixed(run.loopDelayP99Ms, 0)} / ${fixed(run.loopDelayMaxMs, 0)} | ${fixed(run.connectMs, 0)} | ` +
    `${run.sent.frames} | ${run.stored.frames} | ${lost(run)} | ${fixed(run.udpDrops)} | ${notes.join("; ")} |`
  );
}

function machine(): string {
  const [one, five] = os.loadavg();
  return (
    `${os.availableParallelism()} cores (${os.cpus()[0]?.model.trim() ?? "?"}), ` +
    `load average ${fixed(one ?? NaN, 2)} / ${fixed(five ?? NaN, 2)} (1 / 5 min)`
  );
}

// ---- main ------------------------------------------------------------------------------------------

const dir = mkdtempSync(path.join(os.tmpdir(), "rd-bench-recording-"));
let cleaning: Promise<void> | undefined;
function cleanUp(): Promise<void> {
  cleaning ??= (async () => {
    await Promise.all([...children].map((child) => stopProcess(child)));
    rmSync(dir, { recursive: true, force: true });
  })();
  return cleaning;
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    log(`${signal}: stopping…`);
    void cleanUp().finally(() => process.exit(130));
  });
}

const startedAt = performance.now();
const elapsed = () => (performance.now() - startedAt) / 1000;
const startLoad = machine();
/** This process's CPU with nothing to record (timers, V8), cores. */
let idleCores = NaN;
const workloadRuns: Run[] = [];
const sessionRuns: Run[] = [];
/** Why the sessions-at-once runs stopped where they did. */
let stoppedBecause = "";
let failure: unknown;
try {
  log("encoding the clips with the agent's encoder settings…");
  const files = await Promise.all(WORKLOADS.map((name) => encodeClip(name, dir)));
  const clip = (name: WorkloadName) => files[WORKLOADS.indexOf(name)]!;
  log(`clips ready after ${fixed(elapsed())} s`);
  // The first run with real traffic pays for V8 compiling werift's receive path and the segmenter
  // (0.16 core for a first busy-terminal session, 0.10 after a warm-up, with 4 s windows): a short
  // unreported run first, as a recorder that has been up for a while would be.
  log("warming up (1 session of 1080p motion, not reported)…");
  await record("motion", clip("motion"), 1, dir, WARMUP_RUN_SECONDS);
  const idleBefore = process.cpuUsage();
  const idleStart = performance.now();
  await sleep(IDLE_SECONDS * 1000);
  const idle = process.cpuUsage(idleBefore);
  idleCores = (idle.user + idle.system) / 1e3 / (performance.now() - idleStart);

  for (const name of SELECTED) {
    log(`${DESCRIPTIONS[name]}: 1 session, ${WARMUP} s warm-up, ${SECONDS} s window…`);
    const run = await record(name, clip(name), 1, dir);
    workloadRuns.push(run);
    log(workloadRow(run));
  }
  const one = workloadRuns.find((run) => run.workload === "terminal");
  if (one) sessionRuns.push(one);
  for (const sessions of SESSION_STEPS.filter((n) => n > 1)) {
    if (elapsed() > BUDGET_SECONDS) {
      stoppedBecause = `the time budget (BUDGET_SECONDS=${BUDGET_SECONDS}) was spent before ${sessions} sessions`;
      break;
    }
    log(`busy terminal: ${sessions} sessions at once…`);
    let run: Run;
    try {
      run = await record("terminal", clip("terminal"), sessions, dir);
    } catch (error) {
      stoppedBecause = `${sessions} sessions could not be recorded: ${(error as Error).message}`;
      break;
    }
    sessionRuns.push(run);
    log(sessionsRow(run));
    if (lost(run) > 0) {
      stoppedBecause = `frames were lost at ${sessions} sessions`;
      break;
    }
    if (saturated(run)) {
      stoppedBecause = `recorder and sender used ${fixed(run.recorderCores + run.senderCores, 2)} of the machine's ${os.availableParallelism()} cores at ${sessions} sessions`;
      break;
    }
  }
  stoppedBecause ||= `BENCH_SESSIONS ends at ${SESSION_STEPS.at(-1)}`;
} catch (error) {
  failure = error;
} finally {
  await cleanUp();
}

const worstCpu = Math.max(...workloadRuns.map((run) => run.recorderCores));
const worstOverhead = Math.max(...workloadRuns.map(overhead));
const lossless = sessionRuns.filter((run) => lost(run) === 0 && run.failures.length === 0);
const mostLossless = Math.max(0, ...lossless.map((run) => run.sessions));
const atTarget = sessionRuns.find((run) => run.sessions === SESSIONS_TARGET);
console.log(
  [
    "",
    `bench:recording — ${startLoad} at the start; ${machine()} at the end; ${fixed(elapsed())} s in all`,
    `Clips: 20 s each, encoded as the agent encodes (H.264 Constrained Baseline, ultrafast/zerolatency,`,
    `${AGENT_FPS} fps capture with unchanged frames dropped, ≤ ${AGENT_MAX_KBPS} kbit/s, a keyframe every ${AGENT_FPS * 10} frames), looped.`,
    `Each run: ${WARMUP} s warm-up after every session connected, then a ${SECONDS} s window. ` +
      `The recorder process with no session: ${fixed(idleCores, 3)} core.`,
    "",
    "| workload, 1 session | stream | recorder CPU, cores | storage, MB per hour | stream, MB per hour | storage vs stream | frames sent / lost | segments |",
    "|---|---|---|---|---|---|---|---|",
    ...workloadRuns.map(workloadRow),
    `Targets: ≤ ${CPU_TARGET_CORES} core per recorded session (worst here ${fixed(worstCpu, 3)}); storage ≤ the stream + ${STORAGE_TARGET_OVERHEAD * 100} % (worst here ${worstOverhead >= 0 ? "+" : ""}${fixed(worstOverhead * 100, 1)} %).`,
    "Storage minus stream per stored segment (ftyp + moov + moof + mdat header, GCM IV and tag, less the SPS/PPS the " +
      `samples leave to moov): ${workloadRuns.map((run) => `${run.workload} ${fixed((run.stored.bytes - run.sent.bytes) / run.stored.segments)} B`).join(", ")}; ` +
      `a segment closes at a keyframe once it holds 3 s, or at ${SEGMENT_MAX_MS / 1000} s.`,
    "",
    "Busy terminal, sessions recorded at once:",
    "| sessions | recorder CPU, cores | per session | sender CPU, cores | recorder waiting for a core, ms/s | machine CPU pressure | recorder event-loop delay p99 / max, ms | until all connected, ms | frames sent | frames stored | frames lost | UDP receive-buffer drops | notes |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ...sessionRuns.map(sessionsRow),
    `Target: 0 frames lost at ${SESSIONS_TARGET} sessions (${atTarget ? `${lost(atTarget)} lost` : "not run"}); ` +
      `most sessions without a lost frame here: ${mostLossless}. Stopped: ${stoppedBecause || "–"}.`,
    ...[...workloadRuns, ...sessionRuns.slice(1)].flatMap((run) =>
      run.failures.map((f) => `${DESCRIPTIONS[run.workload]}, ${run.sessions} sessions: ${f}`),
    ),
    "",
    "Waiting for a core (the recorder's main thread runnable but not running, /proc/self/schedstat), CPU",
    "pressure (PSI: share of time some task on the machine waited for a CPU), event-loop delay and UDP",
    "drops (/proc/net/snmp RcvbufErrors, machine-wide) cover warm-up and window; CPU the window only.",
    "Measured: the recorder's whole media path in this process — ICE, DTLS, SRTP decryption, RTP",
    "depacketizing and frame assembly (RecorderPeer), fMP4 segmenting, SHA-256, AES-256-GCM sealing and",
    "LocalStore writes (write, fsync, rename) — as CPU time of this process over the window (the",
    `sender's agents run in a child process at nice ${SENDER_NICE}, their CPU shown apart). Not measured: the database`,
    "rows (participant, lease renewals every 5 s, one segment row + audit event per segment) and the",
    "signaling connection, which SessionRecorder adds. Frames lost: frames the agents' VideoSources",
    "handed to their peers minus the samples found when every stored segment is read back and opened.",
    "Storage: the sealed objects' bytes over the recorded time; stream: the encoded frames' bytes",
    "(before RTP) over the same time. MB = 10^6 bytes.",
  ].join("\n"),
);
console.log(
  JSON.stringify({
    bench: "recording",
    workloads: workloadRuns.map((run) => ({
      workload: run.workload,
      streamKbps: round(streamKbps(run), 1),
      recorderCores: round(run.recorderCores, 4),
      storageMBPerHour: round(mbPerHour(run.stored.bytes, run), 2),
      streamMBPerHour: round(mbPerHour(run.sent.bytes, run), 2),
      overheadPercent: round(overhead(run) * 100, 2),
      framesSent: run.sent.frames,
      framesLost: lost(run),
    })),
    sessions: sessionRuns.map((run) => ({
      sessions: run.sessions,
      recorderCores: round(run.recorderCores, 3),
      recorderCoresPerSession: round(run.recorderCores / run.sessions, 4),
      senderCores: round(run.senderCores, 3),
      framesSent: run.sent.frames,
      framesLost: lost(run),
      udpReceiveBufferDrops: run.udpDrops,
      loopDelayMaxMs: round(run.loopDelayMaxMs, 0),
      recorderWaitedMsPerSecond: round(run.waitedMsPerSecond, 1),
      cpuPressurePercent: round(run.cpuPressure * 100, 1),
    })),
    idleCores: round(idleCores, 4),
    mostSessionsWithoutLoss: mostLossless,
  }),
);
if (failure) {
  log(`stopped early: ${(failure as Error).stack ?? String(failure)}`);
  process.exitCode = 1;
}

function round(n: number, digits: number): number | null {
  return Number.isFinite(n) ? Number(n.toFixed(digits)) : null;
}
