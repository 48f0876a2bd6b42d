import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RecordedCodec, RecordedFrame } from "./contracts.ts";
import { initSegment, mediaSegment, mimeType, writeSegment } from "./fmp4.ts";
import { Segmenter, type SegmenterOptions } from "./segmenter.ts";
import { splitSegment } from "./segment-parts.ts";
import { findBox, readBoxes, readFragment } from "./testing/read-fragment.ts";
import {
  decodeErrors,
  encodeH264,
  encodeVp8,
  ffprobe,
  probePackets,
  type EncodedFrame,
} from "./testing/video-fixtures.ts";
import { readFrame, type H264Track } from "./track.ts";

const FPS = 15;
const FRAME_MS = 1000 / FPS;
/** 7 s at 15 fps with a keyframe every 2 s: the default 3 s minimum closes segments at 4 s and 8 s. */
const ENCODING = { seconds: 7, fps: FPS, gop: 2 * FPS };

let dir: string;
const encoded = {} as Record<RecordedCodec, EncodedFrame[]>;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "rd-recording-fmp4-"));
  [encoded.h264, encoded.vp8] = await Promise.all([encodeH264(ENCODING), encodeVp8(ENCODING)]);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Frame i arrives at i / fps seconds, plus `shiftMs(i)`. */
function framesOf(codec: RecordedCodec, shiftMs: (i: number) => number = () => 0): RecordedFrame[] {
  return encoded[codec].map((f, i) => ({ ...f, timeMs: i * FRAME_MS + shiftMs(i) }));
}

function segmentAll(codec: RecordedCodec, frames: RecordedFrame[], options: Partial<SegmenterOptions> = {}) {
  const segmenter = new Segmenter({ codec, ...options });
  const segments = frames.flatMap((f) => segmenter.push(f) ?? []);
  const last = segmenter.flush();
  return last ? [...segments, last] : segments;
}

async function write(name: string, ...parts: Uint8Array[]): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, Buffer.concat(parts));
  return file;
}

describe.each(["h264", "vp8"] as const)("%s segments of real video", (codec) => {
  const codecName = codec === "h264" ? "h264" : "vp8";

  it("play alone: ffprobe reads codec, size, frames and times, and ffmpeg decodes every frame", async () => {
    const segments = segmentAll(codec, framesOf(codec));
    expect(segments.map((s) => [s.startMs, s.durationMs, s.keyframe])).toEqual([
      [0, 4000, true],
      [4000, 3000, true],
    ]);
    for (const segment of segments) {
      const file = await write(`${codec}-alone-${segment.seq}.mp4`, segment.bytes);
      const probe = await ffprobe(file);
      expect(probe.streams).toHaveLength(1);
      expect(probe.streams[0]).toMatchObject({ codec_name: codecName, width: 640, height: 360 });
      expect(Number(probe.streams[0]!.nb_read_frames)).toBe(readFragment(segment.bytes).samples.length);
      expect(Number(probe.format.start_time)).toBeCloseTo(segment.startMs / 1000, 3);
      // ffmpeg gives a fragmented file's duration as its end time: the decode times count from the
      // recording's start, not the file's.
      expect(Number(probe.format.duration)).toBeCloseTo((segment.startMs + segment.durationMs) / 1000, 2);

      // Each frame's time as the segment states it: tfdt plus the trun durations before it.
      const { baseDecodeTime, samples } = readFragment(segment.bytes);
      const times = samples.map(
        (_, i) => baseDecodeTime + samples.slice(0, i).reduce((t, s) => t + s.duration, 0),
      );
      const packets = await probePackets(file);
      expect(packets.map((p) => p.ptsMs)).toEqual(times);
      expect(packets[0]!.keyframe).toBe(true);
      expect(await decodeErrors(file)).toBe("");
    }
  });

  it("keep a gap between segments in the timestamps of the files played one after another", async () => {
    // A 3-second silence after frame 50 (3.33 s): the segment after it starts with a delta frame.
    const silenceAfter = 50;
    const frames = framesOf(codec, (i) => (i > silenceAfter ? 3000 : 0));
    const segments = segmentAll(codec, frames);
    const afterGap = segments.find((s) => s.gapBeforeMs > 0)!;
    expect(afterGap).toMatchObject({
      startMs: Math.round(frames[silenceAfter + 1]!.timeMs),
      keyframe: false,
    });
    // The last frame before the silence is shown for one frame interval; the rest is the gap.
    expect(afterGap.gapBeforeMs).toBe(3000);

    const file = await write(`${codec}-gap.mp4`, ...segments.map((s) => s.bytes));
    const packets = await probePackets(file);
    expect(packets.map((p) => p.ptsMs)).toEqual(frames.map((f) => Math.round(f.timeMs)));
    expect(await decodeErrors(file)).toBe("");
  });

  it("decode in order when a segment cut at maxMs starts with a delta frame, one init part or many", async () => {
    const frames = framesOf(codec);
    const segments = segmentAll(codec, frames, { minMs: 2500, maxMs: 2500 });
    expect(segments.map((s) => s.keyframe)).toContain(false);

    const whole = await write(`${codec}-cut.mp4`, ...segments.map((s) => s.bytes));
    // What a player appends to one SourceBuffer: the init part once, then the media parts.
    const parts = segments.map((s) => splitSegment(s.bytes));
    const oneInit = await write(`${codec}-cut-one-init.mp4`, parts[0]!.init, ...parts.map((p) => p.media));
    for (const file of [whole, oneInit]) {
      expect((await probePackets(file)).map((p) => p.ptsMs)).toEqual(frames.map((f) => Math.round(f.timeMs)));
      expect(await decodeErrors(file)).toBe("");
    }
  });
});

describe("mimeType", () => {
  it("names the H.264 profile, constraints and level of the SPS, as ffprobe reads them", async () => {
    const [segment] = segmentAll("h264", framesOf("h264"));
    const probe = await ffprobe(await write("h264-mime.mp4", segment!.bytes));
    expect(probe.streams[0]).toMatchObject({ profile: "Constrained Baseline" });
    const level = probe.streams[0]!.level!.toString(16).padStart(2, "0");
    // 42 = Baseline (66); c0 = constraint_set0 and 1: Constrained Baseline.
    expect(segment!.mimeType).toBe(`video/mp4; codecs="avc1.42c0${level}"`);
  });

  it("names VP8 as profile 0, level 1, 8 bits", () => {
    expect(mimeType({ codec: "vp8", width: 640, height: 360, profile: 0 })).toBe(
      'video/mp4; codecs="vp08.00.10.08"',
    );
  });
});

describe("writeSegment", () => {
  const track = () => readFrame("h264", encoded.h264[0]!.data).track as H264Track;
  const samples = [
    { data: Uint8Array.of(0, 0, 0, 2, 0x65, 0x88), duration: 67, keyframe: true },
    { data: Uint8Array.of(0, 0, 0, 1, 0x41), duration: 66, keyframe: false },
  ];

  it("lays out ftyp, moov, moof and mdat, the init part and media part as written alone", () => {
    const fragment = { sequenceNumber: 3, baseDecodeTime: 12_345, samples };
    const segment = writeSegment(track(), fragment);
    expect(readBoxes(segment).map((b) => b.type)).toEqual(["ftyp", "moov", "moof", "mdat"]);
    expect(splitSegment(segment)).toEqual({ init: initSegment(track()), media: mediaSegment(fragment) });
  });

  it("points the trun's data offset at the first sample in mdat", () => {
    const segment = writeSegment(track(), { sequenceNumber: 1, baseDecodeTime: 0, samples });
    const { media } = splitSegment(segment);
    const trun = findBox(media, ["moof", "traf", "trun"]).body;
    const dataOffset = new DataView(trun.buffer, trun.byteOffset).getInt32(8);
    expect([...media.subarray(dataOffset, dataOffset + 6)]).toEqual([...samples[0]!.data]);
  });

  it("keeps decode times past 2^32 ms in a 64-bit tfdt", () => {
    const late = 2 ** 32 + 5;
    const segment = writeSegment(track(), { sequenceNumber: 1, baseDecodeTime: late, samples });
    expect(readFragment(segment).baseDecodeTime).toBe(late);
  });

  it("adds chroma format and bit depths to the avcC of a High profile stream", () => {
    // x264's High 4:2:2 SPS (profile 122): the record ends with 0xfc|2, 0xf8|0, 0xf8|0, 0 SPS ext.
    const sps = Buffer.from("677a0020bcd9405005df8fc044000003000400000300f03c60c658", "hex");
    const high = readFrame(
      "h264",
      Buffer.concat([Buffer.from([0, 0, 0, 1]), sps, Buffer.from("0000000168ce3c80", "hex")]),
    ).track as H264Track;
    const avcC = findBox(initSegment(high), ["moov", "trak", "mdia", "minf", "stbl", "stsd"]).body;
    expect([...avcC.subarray(-4)]).toEqual([0xfe, 0xf8, 0xf8, 0]);
  });

  it("refuses a fragment without samples, or a sample without duration", () => {
    expect(() => writeSegment(track(), { sequenceNumber: 1, baseDecodeTime: 0, samples: [] })).toThrow(
      RangeError,
    );
    const zero = [{ ...samples[0]!, duration: 0 }];
    expect(() => writeSegment(track(), { sequenceNumber: 1, baseDecodeTime: 0, samples: zero })).toThrow(
      RangeError,
    );
  });
});

describe("splitSegment", () => {
  it("refuses bytes that are not a segment", () => {
    expect(() => splitSegment(Uint8Array.of(1, 2, 3))).toThrow(/not a recording segment/);
  });
});
