import { describe, expect, it } from "vitest";
import { formatBitrate, summarizeStats, withTiles } from "./stats.ts";

/** A report shaped like Chromium's: transport → selected pair, inbound video → codec. */
function chromiumReport(at: number, bytes: number, frames: number, extra: Record<string, unknown> = {}) {
  const entries = [
    { id: "T01", type: "transport", timestamp: at, selectedCandidatePairId: "CP1" },
    { id: "CP0", type: "candidate-pair", timestamp: at, currentRoundTripTime: 0.5, state: "failed" },
    { id: "CP1", type: "candidate-pair", timestamp: at, currentRoundTripTime: 0.023, state: "succeeded" },
    { id: "COT01", type: "codec", timestamp: at, mimeType: "video/VP8" },
    {
      id: "IT01V",
      type: "inbound-rtp",
      kind: "video",
      timestamp: at,
      codecId: "COT01",
      bytesReceived: bytes,
      framesDecoded: frames,
      frameWidth: 1920,
      frameHeight: 1080,
      packetsLost: 2,
      ...extra,
    },
  ];
  return new Map(entries.map((e) => [e.id, e]));
}

describe("summarizeStats", () => {
  it("reads codec, resolution and round trip from the first report, without rates yet", () => {
    const stats = summarizeStats(chromiumReport(1000, 10_000, 10), null);
    expect(stats).toMatchObject({
      codec: "video/VP8",
      width: 1920,
      height: 1080,
      rttMs: 23,
      kbps: null,
      fps: null,
      packetsLost: 2,
    });
  });

  it("computes the bitrate from the bytes received since the previous sample", () => {
    const first = summarizeStats(chromiumReport(1000, 10_000, 10), null);
    // 250 000 bytes in 1 s = 2 000 kbit/s.
    const second = summarizeStats(chromiumReport(2000, 260_000, 40), first.sample);
    expect(second.kbps).toBe(2000);
    expect(second.fps).toBe(30);
  });

  it("prefers the browser's own framesPerSecond", () => {
    const first = summarizeStats(chromiumReport(1000, 0, 0), null);
    const second = summarizeStats(chromiumReport(2000, 0, 30, { framesPerSecond: 24 }), first.sample);
    expect(second.fps).toBe(24);
  });

  it("gives no rate when the counters restarted (a renegotiated stream)", () => {
    const first = summarizeStats(chromiumReport(1000, 900_000, 900), null);
    expect(summarizeStats(chromiumReport(2000, 1000, 1), first.sample).kbps).toBeNull();
  });

  it("finds the selected pair the Firefox way", () => {
    const report = new Map([
      ["p", { id: "p", type: "candidate-pair", timestamp: 1, selected: true, currentRoundTripTime: 0.1 }],
    ]);
    expect(summarizeStats(report, null)).toMatchObject({ rttMs: 100, codec: null, sample: null });
  });

  it("is all empty before any video arrives", () => {
    expect(summarizeStats(new Map(), null)).toEqual({
      fps: null,
      kbps: null,
      rttMs: null,
      codec: null,
      width: null,
      height: null,
      packetsLost: null,
      sample: null,
    });
  });
});

describe("formatBitrate", () => {
  it("uses kbit/s below a megabit and Mbit/s above", () => {
    expect(formatBitrate(850)).toBe("850 kbit/s");
    expect(formatBitrate(2450)).toBe("2.5 Mbit/s");
    expect(formatBitrate(null)).toBe("—");
  });
});

describe("withTiles", () => {
  it("shows the tiles' rate, bitrate, size and 'tiles' as the codec, keeping the connection's round trip", () => {
    const video = summarizeStats(chromiumReport(1000, 10_000, 10), null);
    const first = withTiles(video, { at: 1000, updates: 5, bytes: 4000, width: 1280, height: 720 }, null);
    expect(first).toMatchObject({
      codec: "tiles",
      fps: null,
      kbps: null,
      width: 1280,
      height: 720,
      rttMs: 23,
    });
    const next = withTiles(
      video,
      { at: 3000, updates: 45, bytes: 154_000, width: 1280, height: 720 },
      {
        at: 1000,
        updates: 5,
        bytes: 4000,
        width: 1280,
        height: 720,
      },
    );
    // 40 updates and 150,000 bytes in 2 s.
    expect(next).toMatchObject({ codec: "tiles", fps: 20, kbps: 600 });
  });
});
