/**
 * The stats overlay's numbers from one `RTCPeerConnection.getStats()` report (W3C webrtc-stats):
 * decoded frame rate, received bitrate, round trip, codec and resolution. Pure: the caller keeps the
 * previous sample, since a rate needs two.
 */
import type { TileCounts } from "./tile-screen.ts";

/** One entry of an RTCStatsReport, read loosely: browsers differ in which fields they fill. */
type Stat = { id: string; type: string; timestamp: number } & Record<string, unknown>;

/** What a rate is computed from; pass the last summary's `sample` back in. */
export interface StatsSample {
  timestamp: number;
  bytesReceived: number;
  framesDecoded: number;
}

export interface ViewerStats {
  /** Frames decoded per second; null before there is a rate. */
  fps: number | null;
  /** Video bitrate received, kbit/s; null on the first sample. */
  kbps: number | null;
  /** Round trip of the selected candidate pair, ms. */
  rttMs: number | null;
  /** The video codec's MIME type ("video/VP8"). */
  codec: string | null;
  width: number | null;
  height: number | null;
  packetsLost: number | null;
  sample: StatsSample | null;
}

const num = (value: unknown): number | null =>
  typeof value === "number" && Number.isFinite(value) ? value : null;

/** Summarizes `report` (an RTCStatsReport, or any iterable of its entries) against `previous`. */
export function summarizeStats(
  report: { values(): Iterable<unknown> },
  previous: StatsSample | null,
): ViewerStats {
  const byId = new Map<string, Stat>();
  for (const entry of report.values()) {
    const stat = entry as Stat;
    byId.set(stat.id, stat);
  }
  const stats = [...byId.values()];
  const video = stats.find((s) => s.type === "inbound-rtp" && (s.kind ?? s.mediaType) === "video");
  const pair = selectedPair(stats, byId);
  const rtt = num(pair?.currentRoundTripTime);

  const empty: ViewerStats = {
    fps: null,
    kbps: null,
    rttMs: rtt === null ? null : Math.round(rtt * 1000),
    codec: null,
    width: null,
    height: null,
    packetsLost: null,
    sample: null,
  };
  if (!video) return empty;

  const sample: StatsSample = {
    timestamp: video.timestamp,
    bytesReceived: num(video.bytesReceived) ?? 0,
    framesDecoded: num(video.framesDecoded) ?? 0,
  };
  const elapsedMs = previous ? sample.timestamp - previous.timestamp : 0;
  // A counter that went backwards means a new stream (renegotiation): no rate for this interval.
  const usable =
    previous !== null &&
    elapsedMs > 0 &&
    sample.bytesReceived >= previous.bytesReceived &&
    sample.framesDecoded >= previous.framesDecoded;
  const codecStat = typeof video.codecId === "string" ? byId.get(video.codecId) : undefined;
  return {
    ...empty,
    // Bits per millisecond is kilobits per second.
    kbps: usable ? Math.round(((sample.bytesReceived - previous.bytesReceived) * 8) / elapsedMs) : null,
    fps:
      num(video.framesPerSecond) ??
      (usable ? Math.round(((sample.framesDecoded - previous.framesDecoded) * 1000) / elapsedMs) : null),
    codec: typeof codecStat?.mimeType === "string" ? codecStat.mimeType : null,
    width: num(video.frameWidth),
    height: num(video.frameHeight),
    packetsLost: num(video.packetsLost),
    sample,
  };
}

/**
 * The candidate pair in use: Chromium names it on the transport (selectedCandidatePairId); Firefox
 * flags it `selected`; otherwise the nominated pair that succeeded.
 */
function selectedPair(stats: Stat[], byId: Map<string, Stat>): Stat | undefined {
  for (const s of stats) {
    if (s.type === "transport" && typeof s.selectedCandidatePairId === "string") {
      const pair = byId.get(s.selectedCandidatePairId);
      if (pair) return pair;
    }
  }
  return (
    stats.find((s) => s.type === "candidate-pair" && s.selected === true) ??
    stats.find((s) => s.type === "candidate-pair" && s.nominated === true && s.state === "succeeded")
  );
}

/** "1.2 Mbit/s" or "850 kbit/s". */
export function formatBitrate(kbps: number | null): string {
  if (kbps === null) return "—";
  return kbps >= 1000 ? `${(kbps / 1000).toFixed(1)} Mbit/s` : `${kbps} kbit/s`;
}

/** What the tiles brought, at a time. */
export type TileSample = TileCounts & { at: number };

/**
 * The overlay while tiles carry the picture: their update rate and bitrate (since `previous`) in
 * place of the video's, "tiles" as the codec; round trip and losses stay the connection's.
 */
export function withTiles(stats: ViewerStats, now: TileSample, previous: TileSample | null): ViewerStats {
  const seconds = previous ? (now.at - previous.at) / 1000 : 0;
  const rate = (value: number) => (seconds > 0 ? value / seconds : null);
  const fps = previous ? rate(now.updates - previous.updates) : null;
  const kbps = previous ? rate(((now.bytes - previous.bytes) * 8) / 1000) : null;
  return {
    ...stats,
    fps: fps === null ? null : Math.round(fps),
    kbps: kbps === null ? null : Math.round(kbps),
    codec: "tiles",
    width: now.width || null,
    height: now.height || null,
  };
}
