/**
 * bench:media on a bad network: the live session with the viewer's media forced through TURN
 * (coturn), reached only through impair-proxy.ts, which loses, delays and rate-limits it in both
 * directions. One session per condition — clean relay (the baseline), 1 % and 5 % loss, 80 ms RTT
 * with jitter, a 1 Mbit/s cap, and a 5 → 0.5 Mbit/s drop mid-session — each reporting frames/s,
 * kbit/s, input-to-photon, the longest freeze, and for the drop how long the stream took to
 * recover. Prints figures; asserts nothing.
 *
 *   Chromium ──UDP── impair proxy ──UDP── coturn ──UDP── agent (werift, host candidates)
 *
 * Only the viewer's leg is impaired (the agent reaches coturn's relay ports directly), as with a
 * technician on a bad hotel Wi-Fi and a desktop on a wired LAN. Every datagram of the viewer's
 * session crosses the proxy: video, input, control, and TURN's own allocation traffic.
 */
import { createHmac, randomBytes } from "node:crypto";
import type { Page } from "@playwright/test";
import { screenPoint } from "../../../e2e/viewer.ts";
import { startCoturn } from "../../lib/coturn.ts";
import {
  type ImpairProxy,
  type Impairment,
  type LaneCounters,
  NO_IMPAIRMENT,
  startImpairProxy,
} from "./impair-proxy.ts";
import { inputToPhoton, pressConnect, sleep, waitForFirstFrame } from "./measure.ts";
import { installBenchHooks, installRelayPolicy } from "./page-hooks.ts";
import type { Workload } from "./workloads.ts";

// ---- the conditions -------------------------------------------------------------------------

export type ConditionName = "clean" | "loss-1" | "loss-5" | "rtt-80" | "cap-1m" | "drop";

export interface Condition {
  name: ConditionName;
  label: string;
  /** Settings of the proxy for the whole session (unset ones: no impairment). */
  impairment: Partial<Impairment>;
  /** Settings changed mid-session, DROP_AFTER_MS into the measurement window. */
  dropTo?: Partial<Impairment>;
  /** What the figures should meet, printed beside them. */
  target?: { maxFreezeMs: number; recoveryMs?: number };
}

/** Loss, delay and jitter apply to each direction alike; the cap is per direction. */
export const CONDITIONS: Condition[] = [
  { name: "clean", label: "clean, via relay", impairment: {} },
  { name: "loss-1", label: "1 % loss each way", impairment: { lossPercent: 1 } },
  {
    name: "loss-5",
    label: "5 % loss each way",
    impairment: { lossPercent: 5 },
    target: { maxFreezeMs: 1000 },
  },
  {
    name: "rtt-80",
    label: "80 ms RTT (40 ± 10 ms each way)",
    impairment: { delayMs: 40, jitterMs: 10 },
  },
  { name: "cap-1m", label: "1 Mbit/s cap", impairment: { rateKbps: 1000 } },
  {
    name: "drop",
    label: "5 → 0.5 Mbit/s mid-session",
    impairment: { rateKbps: 5000 },
    dropTo: { rateKbps: 500 },
    target: { maxFreezeMs: 2000, recoveryMs: 3000 },
  },
];

/**
 * Steady state before the drop, ms: long enough for a frame rate to compare against, and for the
 * stream to have settled. At 5 s the drop came with the viewer's first bandwidth estimate (about 8 s
 * into the session), whose encoder restart then took the stream under 0.5 Mbit/s by chance.
 */
const DROP_AFTER_MS = 10_000;
const SETTLE_MS = 3000;
/** The stream is unhealthy while its last frame is older than this (see recoveryTime). */
const HEALTHY_GAP_MS = 500;
/**
 * …or while the last second showed fewer than half the frames/s of before the drop. Below twice
 * this many frames/s before the drop, recovery is not measured: a stream that slow (an overloaded
 * machine) has no frame rate to come back to.
 */
const HEALTHY_MIN_FRAMES = 5;
/** The grid recoveryTime checks health on, ms: finer than any gap that matters. */
const RECOVERY_STEP_MS = 10;
/** TURN credentials outlive any bench run. */
const CREDENTIAL_TTL_S = 6 * 3600;

// ---- the path: coturn behind the proxy ------------------------------------------------------

export interface ImpairedPathOptions {
  /** Where the viewer sends (the proxy), and where coturn listens (loopback). */
  proxyPort: number;
  coturnPort: number;
  /** coturn's relay ports: a small range keeps the bench's allocations apart from anything else. */
  minRelayPort: number;
  maxRelayPort: number;
  coturnLogFile?: string;
}

export interface ImpairedPath {
  proxy: ImpairProxy;
  /** The viewer's TURN URL: the proxy, which forwards to coturn. */
  turnUrl: string;
  /**
   * For the dashboard's environment: its signaling worker then hands the viewer short-lived
   * credentials for `turnUrl` itself (until it does, installRelayPolicy injects `iceServers()`).
   */
  dashboardEnv: { RD_TURN_SECRET: string; RD_TURN_URLS: string };
  /** TURN REST credentials for `turnUrl`, signed with the same secret. */
  iceServers(): RTCIceServer[];
  close(): Promise<void>;
}

/**
 * The TURN REST API's short-lived credential (draft-uberti-behave-turn-rest-00 §2.2), as coturn's
 * `--use-auth-secret` checks it: the username is `<unix expiry>:<name>`, the password the
 * base64 HMAC-SHA1 of the username keyed with the shared secret.
 */
export function turnCredential(secret: string, name: string, ttlSeconds: number, nowMs = Date.now()) {
  const username = `${Math.floor(nowMs / 1000) + ttlSeconds}:${name}`;
  return { username, credential: createHmac("sha1", secret).update(username).digest("base64") };
}

/** Starts coturn on loopback and the proxy in front of it (no impairment yet). */
export async function startImpairedPath(options: ImpairedPathOptions): Promise<ImpairedPath> {
  const secret = randomBytes(24).toString("hex");
  const coturn = await startCoturn({
    port: options.coturnPort,
    secret,
    listenIp: "127.0.0.1",
    relayIp: "127.0.0.1",
    minRelayPort: options.minRelayPort,
    maxRelayPort: options.maxRelayPort,
    logFile: options.coturnLogFile,
  });
  let proxy: ImpairProxy;
  try {
    proxy = await startImpairProxy({
      port: options.proxyPort,
      target: { host: "127.0.0.1", port: options.coturnPort },
    });
  } catch (error) {
    await coturn.stop();
    throw error;
  }
  const turnUrl = `turn:127.0.0.1:${proxy.port}?transport=udp`;
  return {
    proxy,
    turnUrl,
    dashboardEnv: { RD_TURN_SECRET: secret, RD_TURN_URLS: turnUrl },
    iceServers: () => [{ urls: turnUrl, ...turnCredential(secret, "bench", CREDENTIAL_TTL_S) }],
    async close() {
      await proxy.close();
      await coturn.stop();
    },
  };
}

// ---- frame analysis -------------------------------------------------------------------------

/**
 * The longest time no new picture was shown within [from, to], ms, from the times pictures were
 * shown (sorted). The gap running into `from` counts from the last picture before it.
 */
export function longestGap(times: number[], from: number, to: number): number {
  let previous = from;
  for (const t of times) if (t <= from) previous = t;
  let longest = 0;
  for (const t of times) {
    if (t <= from || t > to) continue;
    longest = Math.max(longest, t - previous);
    previous = t;
  }
  return Math.max(longest, to - previous);
}

/**
 * How long the stream took to recover from a drop at `dropAt`, ms, from the times pictures were
 * shown (sorted). The stream is healthy at an instant when its last picture is at most
 * HEALTHY_GAP_MS old and the second before it showed at least `minFrames` pictures (the frame
 * rate is back). Recovery runs from the drop to the last unhealthy instant before `end`: from then
 * on the stream stayed healthy. 0 if it never faltered; Infinity if it was still unhealthy at the
 * end (no recovery within the window).
 */
export function recoveryTime(times: number[], dropAt: number, end: number, minFrames: number): number {
  let lastUnhealthy = -Infinity;
  let newest = -1; // index of the last picture at or before x
  let oldest = 0; // index of the first picture inside (x − 1 s, x]
  for (let x = dropAt; x <= end; x += RECOVERY_STEP_MS) {
    while (newest + 1 < times.length && times[newest + 1]! <= x) newest++;
    while (oldest <= newest && times[oldest]! <= x - 1000) oldest++;
    const stale = newest < 0 || x - times[newest]! > HEALTHY_GAP_MS;
    if (stale || newest - oldest + 1 < minFrames) lastUnhealthy = x;
  }
  if (lastUnhealthy === -Infinity) return 0;
  return end - lastUnhealthy < RECOVERY_STEP_MS ? Infinity : lastUnhealthy - dropAt;
}

// ---- one session ----------------------------------------------------------------------------

/** Where the viewer's media went: the selected ICE candidate pair. */
export interface Route {
  /** The viewer's side: "relay" when it goes through TURN. */
  localType: string;
  /** The TURN server the relay candidate came from (Chromium reports it). */
  url?: string;
  /** The agent's side, as the viewer saw it. */
  remoteType: string;
  remoteAddress: string;
  /** Whether the page used the bench's TURN server (the dashboard handed it none). */
  injected: boolean;
}

export interface ImpairmentRow {
  condition: Condition;
  route?: Route;
  /** Whether the proxy carried at least the video bytes the viewer received in the window. */
  viaProxy: boolean;
  firstFrameMs: number;
  /** Over the measurement window; after the drop for the drop condition. */
  fps: number;
  kbps: number;
  latencies: number[];
  lost: number;
  /** The longest time without a new picture in the window (after the drop for the drop). */
  freezeMs: number;
  /** Drop condition only: before the drop, and the recovery (recoveryTime). */
  before?: { fps: number; kbps: number };
  /**
   * Infinity: no recovery within the window; NaN: not measurable, the stream showed fewer than
   * 2 × HEALTHY_MIN_FRAMES frames/s before the drop (an overloaded machine, say).
   */
  recoveryMs?: number;
  detail: string;
  /** Set when the session could not be measured; the other figures are then NaN. */
  error?: string;
}

interface VideoCounters {
  frames: number;
  bytes: number;
  packetsLost: number;
  nacks: number;
  plis: number;
  size: string;
}

/** The viewer's inbound video counters and its selected candidate pair. */
async function readViewer(page: Page): Promise<{ video: VideoCounters; route?: Route }> {
  return page.evaluate(async () => {
    const bench = window.__bench;
    const pc = bench.pcs.at(-1)!;
    const stats = await pc.getStats();
    // The picture's frames and bytes either way: the video track's, and the tiles' (bench.tileFrames,
    // the screen data channel's bytes).
    const video = { frames: bench.tileFrames, bytes: 0, packetsLost: 0, nacks: 0, plis: 0, size: "?" };
    let pairId: string | undefined;
    stats.forEach((s) => {
      if (s.type === "data-channel" && s.label === "screen") video.bytes += s.bytesReceived ?? 0;
      if (s.type === "inbound-rtp" && s.kind === "video") {
        video.frames += s.framesDecoded ?? 0;
        video.bytes += (s.bytesReceived ?? 0) + (s.headerBytesReceived ?? 0);
        video.packetsLost = s.packetsLost ?? 0;
        video.nacks = s.nackCount ?? 0;
        video.plis = s.pliCount ?? 0;
        // A track whose first keyframe never got through (the tiles came first) has no size yet.
        video.size = s.frameWidth
          ? `${stats.get(s.codecId)?.mimeType ?? "?"} ${s.frameWidth}×${s.frameHeight}`
          : "no frame decoded";
      }
      if (s.type === "transport" && s.selectedCandidatePairId) pairId = s.selectedCandidatePairId;
    });
    const picture = document.querySelector("[data-picture]")?.getAttribute("data-picture");
    if (picture === "tiles") video.size = `tiles (video: ${video.size})`;
    if (!pairId)
      stats.forEach((s) => {
        if (s.type === "candidate-pair" && s.nominated && s.state === "succeeded") pairId ??= s.id;
      });
    const pair = pairId ? stats.get(pairId) : undefined;
    const local = pair && stats.get(pair.localCandidateId);
    const remote = pair && stats.get(pair.remoteCandidateId);
    const route =
      local && remote
        ? {
            localType: String(local.candidateType),
            url: local.url as string | undefined,
            remoteType: String(remote.candidateType),
            remoteAddress: `${remote.address}:${remote.port}`,
            injected: bench.relay?.injected ?? false,
          }
        : undefined;
    return { video, route };
  });
}

const pageNow = (page: Page) => page.evaluate(() => performance.now());

const laneDelta = (after: LaneCounters, before: LaneCounters) => ({
  bytes: after.forwardedBytes - before.forwardedBytes,
  lossDrops: after.droppedByLoss - before.droppedByLoss,
  queueDrops: after.droppedByQueue - before.droppedByQueue,
});

async function measureCondition(
  page: Page,
  options: ImpairmentOptions,
  condition: Condition,
): Promise<ImpairmentRow> {
  const { proxy } = options.path;
  proxy.set({ ...NO_IMPAIRMENT, ...condition.impairment });
  await page.goto(`/agents/${options.agentId}`);
  const connect = page.locator("button:not([disabled])", { hasText: "Connect" });
  await connect.waitFor({ timeout: 30_000 });
  const { pressedAt: clickedAt } = await pressConnect(page, connect);
  try {
    const firstFrameMs = await waitForFirstFrame(page, clickedAt);
    await sleep(SETTLE_MS);

    const proxyAtStart = proxy.stats();
    const start = await readViewer(page);
    const windowStart = await page.evaluate(() => {
      window.__bench.frameTimes = [];
      return performance.now();
    });
    let dropAt: number | undefined;
    let atDrop: VideoCounters | undefined;
    if (condition.dropTo) {
      await sleep(DROP_AFTER_MS);
      // The page's clock an IPC round trip (a few ms) before the proxy changes.
      dropAt = await pageNow(page);
      proxy.set(condition.dropTo);
      atDrop = (await readViewer(page)).video;
    }
    await sleep(options.seconds * 1000);
    const { times, windowEnd } = await page.evaluate(() => {
      const times = window.__bench.frameTimes ?? [];
      window.__bench.frameTimes = null;
      return { times, windowEnd: performance.now() };
    });
    const end = await readViewer(page);
    const proxyAtEnd = proxy.stats();

    const from = dropAt ?? windowStart;
    const counted = atDrop ?? start.video;
    const seconds = (windowEnd - from) / 1000;
    const fps = (end.video.frames - counted.frames) / seconds;
    const kbps = ((end.video.bytes - counted.bytes) * 8) / seconds / 1000;
    let before: ImpairmentRow["before"];
    let recoveryMs: number | undefined;
    if (dropAt !== undefined && atDrop) {
      const beforeSeconds = (dropAt - windowStart) / 1000;
      before = {
        fps: (atDrop.frames - start.video.frames) / beforeSeconds,
        kbps: ((atDrop.bytes - start.video.bytes) * 8) / beforeSeconds / 1000,
      };
      const shownBefore = times.filter((t) => t > windowStart && t <= dropAt).length / beforeSeconds;
      // A stream that never reached the floor twice over before the drop cannot "come back" to it.
      recoveryMs =
        shownBefore < 2 * HEALTHY_MIN_FRAMES
          ? NaN
          : recoveryTime(times, dropAt, windowEnd, Math.ceil(shownBefore / 2));
    }

    const down = laneDelta(proxyAtEnd.downstream, proxyAtStart.downstream);
    const up = laneDelta(proxyAtEnd.upstream, proxyAtStart.upstream);
    const videoBytes = end.video.bytes - start.video.bytes;
    // SRTP and TURN framing only add to the RTP bytes the viewer counts.
    const viaProxy =
      end.route?.localType === "relay" &&
      (end.route.url === undefined || end.route.url.includes(`:${proxy.port}`)) &&
      down.bytes >= videoBytes;

    let samples = { latencies: [] as number[], lost: 0 };
    const probe = options.workload.probe;
    if (probe && options.samples > 0) {
      const { width, height } = options.workload.display;
      const click = await screenPoint(page, probe.click.x / width, probe.click.y / height);
      samples = await inputToPhoton(page, probe, click, options.samples);
    }

    const v = end.video;
    const detail =
      `${v.size}; in the window: ${v.packetsLost - start.video.packetsLost} RTP packets lost, ` +
      `${v.nacks - start.video.nacks} NACKs, ${v.plis - start.video.plis} PLIs; proxy dropped ` +
      `${down.lossDrops + down.queueDrops} down (${down.queueDrops} by its queue), ` +
      `${up.lossDrops + up.queueDrops} up (${up.queueDrops} by its queue)`;
    return {
      condition,
      route: end.route,
      viaProxy,
      firstFrameMs,
      fps,
      kbps,
      ...samples,
      freezeMs: longestGap(times, from, windowEnd),
      before,
      recoveryMs,
      detail,
    };
  } finally {
    await page
      .getByTestId("end-session")
      .click({ timeout: 10_000 })
      .catch(() => {});
  }
}

// ---- all conditions -------------------------------------------------------------------------

export interface ImpairmentOptions {
  /**
   * A dashboard page signed in as someone who may connect to the agent. Its cookies open a
   * browser context of the bench's own (with the relay policy installed), so the page's own
   * context is left as it was.
   */
  page: Page;
  agentId: string;
  /** The desktop the agent runs on now, with its input probe (the busy terminal). */
  workload: Workload;
  path: ImpairedPath;
  /** Measurement window per condition, s (after the drop, for the drop). */
  seconds: number;
  /** Input-to-photon samples per condition. */
  samples: number;
  /** Which conditions, in CONDITIONS' order; all by default. */
  conditions?: ConditionName[];
  log?: (message: string) => void;
}

/** One session per condition, each with the viewer forced through the impaired relay. */
export async function measureImpairment(options: ImpairmentOptions): Promise<ImpairmentRow[]> {
  const { page: signedIn, path } = options;
  const wanted = options.conditions ?? CONDITIONS.map((c) => c.name);
  const browser = signedIn.context().browser();
  if (!browser) throw new Error("measureImpairment needs a page of a launched browser");
  const context = await browser.newContext({
    baseURL: new URL(signedIn.url()).origin,
    viewport: signedIn.viewportSize() ?? { width: 1920, height: 1200 },
    storageState: await signedIn.context().storageState(),
  });
  const rows: ImpairmentRow[] = [];
  try {
    await context.addInitScript(installBenchHooks);
    await context.addInitScript(installRelayPolicy, path.iceServers());
    const page = await context.newPage();
    for (const condition of CONDITIONS.filter((c) => wanted.includes(c.name))) {
      options.log?.(`impaired network: ${condition.label}…`);
      let row: ImpairmentRow;
      try {
        row = await measureCondition(page, options, condition);
      } catch (error) {
        row = failedRow(condition, error);
      }
      rows.push(row);
      options.log?.(impairmentRow(row));
    }
  } finally {
    path.proxy.set(NO_IMPAIRMENT);
    await context.close();
  }
  return rows;
}

function failedRow(condition: Condition, error: unknown): ImpairmentRow {
  const message = error instanceof Error ? error.message.split("\n")[0]! : String(error);
  return {
    condition,
    viaProxy: false,
    firstFrameMs: NaN,
    fps: NaN,
    kbps: NaN,
    latencies: [],
    lost: 0,
    freezeMs: NaN,
    detail: "",
    error: message,
  };
}

// ---- report ---------------------------------------------------------------------------------

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]! : NaN;
}

const fixed = (n: number, digits = 0) => (Number.isFinite(n) ? n.toFixed(digits) : "–");

function routeText(row: ImpairmentRow): string {
  const r = row.route;
  if (!r) return "no selected pair";
  const local = `${r.localType}${row.viaProxy ? " via the proxy" : " NOT via the proxy"}`;
  return `${local} → agent ${r.remoteType}${r.injected ? " (bench's TURN credentials)" : ""}`;
}

function targetText(row: ImpairmentRow): string {
  const target = row.condition.target;
  if (!target) return "";
  const verdict = (value: number, limit: number) =>
    Number.isNaN(value) ? "not measurable" : value <= limit ? "met" : "MISSED";
  const checks = [`freeze ≤ ${target.maxFreezeMs / 1000} s ${verdict(row.freezeMs, target.maxFreezeMs)}`];
  if (target.recoveryMs !== undefined)
    checks.push(
      `recovery ≤ ${target.recoveryMs / 1000} s ${verdict(row.recoveryMs ?? NaN, target.recoveryMs)}`,
    );
  return checks.join(", ");
}

/** One condition's line of the table. */
export function impairmentRow(row: ImpairmentRow): string {
  const { condition } = row;
  if (row.error) return `| ${condition.label} | failed: ${row.error} | | | | | | | | |`;
  const latency = row.latencies.length
    ? `${fixed(percentile(row.latencies, 50))} / ${fixed(percentile(row.latencies, 95))}${row.lost ? ` (${row.lost} lost)` : ""}`
    : "–";
  const recovery =
    row.recoveryMs === undefined
      ? ""
      : Number.isNaN(row.recoveryMs)
        ? `not measurable (under ${2 * HEALTHY_MIN_FRAMES} frames/s before the drop)`
        : Number.isFinite(row.recoveryMs)
          ? fixed(row.recoveryMs)
          : "none in window";
  const detail = row.before
    ? `before the drop ${fixed(row.before.fps, 1)} frames/s, ${fixed(row.before.kbps)} kbit/s; ${row.detail}`
    : row.detail;
  return (
    `| ${condition.label} | ${routeText(row)} | ${fixed(row.firstFrameMs)} | ${fixed(row.fps, 1)} | ` +
    `${fixed(row.kbps)} | ${latency} | ${fixed(row.freezeMs)} | ${recovery} | ${targetText(row)} | ${detail} |`
  );
}

/** The table of every condition, with its targets and definitions, in media.ts's format. */
export function impairmentReport(
  rows: ImpairmentRow[],
  options: { seconds: number; samples: number },
): string {
  return `
Busy terminal (1280×720) through TURN on an impaired network — ${options.seconds} s window per condition (after the drop for the drop, which comes ${DROP_AFTER_MS / 1000} s into it), ${options.samples} input-to-photon samples:
| network (viewer ↔ TURN) | viewer's path | Connect → first frame, ms | frames/s | kbit/s | input-to-photon p50 / p95, ms | longest freeze, ms | recovery, ms | target | stream |
|---|---|---|---|---|---|---|---|---|---|
${rows.map(impairmentRow).join("\n")}

Targets: no freeze > 1 s at 5 % loss; after the drop to 0.5 Mbit/s, recovery within 3 s and no freeze > 2 s.
The viewer is forced to relay (iceTransportPolicy "relay"); "via the proxy" means the selected pair's local
candidate is a relay one from the proxy's TURN URL and the proxy carried at least the video bytes received.
Loss, delay and jitter apply to each direction; the cap is per direction, with a drop-tail queue of
${NO_IMPAIRMENT.queueMs} ms at the cap. Longest freeze: the longest time without a new decoded frame shown
(requestVideoFrameCallback). Recovery: from the drop until the stream stays healthy — last frame at most
${HEALTHY_GAP_MS} ms old and the last second showed at least half the frames/s of before the drop (not
measurable when that was under ${2 * HEALTHY_MIN_FRAMES} frames/s).`;
}
