import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import type { EncodedFrame, ScreenSize } from "./encoded-frame.ts";
import { outputArgs } from "./ffmpeg-args.ts";
import { avcTag, flvHeader, flvTag, lengthPrefixed, pushInPieces } from "./flv-fixtures.ts";
import { FLV_TAG_TYPE } from "./flv-reader.ts";
import { H264FlvReader } from "./h264-flv-reader.ts";
import { NAL_UNIT_TYPE, nalUnitType, splitLengthPrefixed } from "./h264-nal.ts";

/** x264's SPS for 1366×768 (86×48 macroblocks, 10 columns cropped) and a PPS. */
const sps = Buffer.from("6742c020da01581879bc0440000003004000000f03c60ca8", "hex");
const pps = Buffer.from("68ce0fc8", "hex");
const idr = Buffer.concat([Buffer.of(0x65), Buffer.alloc(200, 0xaa)]);
const slice = Buffer.concat([Buffer.of(0x41), Buffer.alloc(50, 0xbb)]);
/** An AVCDecoderConfigurationRecord header: version 1, profile, compatibility, level, 4-byte sizes. */
const configRecord = (lengthSizeMinusOne = 3) =>
  Buffer.of(1, 0x42, 0xc0, 0x20, 0xfc | lengthSizeMinusOne, 0xe0);

function reader() {
  const frames: EncodedFrame[] = [];
  const screens: ScreenSize[] = [];
  const order: string[] = [];
  const h264 = new H264FlvReader({
    onScreen: (size) => void (screens.push(size), order.push("screen")),
    onFrame: (frame) => void (frames.push(frame), order.push("frame")),
  });
  return { h264, frames, screens, order };
}

describe("H264FlvReader", () => {
  it("hands on each access unit, keyframe when it holds an IDR slice, the size first", () => {
    const { h264, frames, screens, order } = reader();
    h264.push(
      Buffer.concat([
        flvHeader(),
        flvTag(FLV_TAG_TYPE.script, Buffer.from("onMetaData")),
        avcTag(0, configRecord(), true),
        avcTag(1, lengthPrefixed([sps, pps, idr]), true),
        avcTag(1, lengthPrefixed([slice])),
        avcTag(2, Buffer.alloc(0), true), // end of sequence: no frame
      ]),
    );
    expect(frames.map((f) => f.keyframe)).toEqual([true, false]);
    expect(frames[0]!.data).toEqual(lengthPrefixed([sps, pps, idr]));
    expect(screens).toEqual([{ width: 1366, height: 768 }]);
    expect(order).toEqual(["screen", "frame", "frame"]);
  });

  it("does not call an access unit a keyframe for its SPS and PPS alone", () => {
    const { h264, frames } = reader();
    h264.push(Buffer.concat([flvHeader(), avcTag(1, lengthPrefixed([sps, pps, slice]), true)]));
    expect(frames.map((f) => f.keyframe)).toEqual([false]);
  });

  it("rejects NAL unit sizes other than 4 bytes", () => {
    const { h264 } = reader();
    expect(() => h264.push(Buffer.concat([flvHeader(), avcTag(0, configRecord(1), true)]))).toThrow(
      /2 bytes/,
    );
  });

  it("rejects a video tag that is not H.264", () => {
    const { h264 } = reader();
    const vp6 = flvTag(FLV_TAG_TYPE.video, Buffer.of(0x14, 0, 0, 0, 0, 0));
    expect(() => h264.push(Buffer.concat([flvHeader(), vp6]))).toThrow(/not H.264/);
  });

  it("rejects an access unit whose NAL unit sizes do not add up", () => {
    const { h264 } = reader();
    const broken = lengthPrefixed([slice]).subarray(0, 20);
    expect(() => h264.push(Buffer.concat([flvHeader(), avcTag(1, broken)]))).toThrow(/does not fit/);
  });

  it("reads ffmpeg's own output however the pipe splits it: keyframe first, SPS/PPS on every keyframe, the cropped size", () => {
    // The agent's own encoder settings, on a generated picture of an odd size (the crop filter
    // makes it 648×362; x264 then crops 41×23 macroblocks down to that).
    const ffmpeg = spawnSync(
      "ffmpeg",
      [
        ...["-hide_banner", "-loglevel", "error", "-f", "lavfi"],
        ...["-i", "testsrc2=size=649x363:rate=30:duration=2"],
        ...outputArgs({ codec: "h264", fps: 30, kbps: 1000 }),
      ],
      { maxBuffer: 64 * 1024 * 1024 },
    );
    expect(ffmpeg.status, ffmpeg.stderr.toString()).toBe(0);

    let seed = 1;
    const pieces = Array.from({ length: 500 }, () => 1 + ((seed = (seed * 48271) % 0x7fffffff) % 3000));
    const { h264, frames, screens } = reader();
    pushInPieces(ffmpeg.stdout, pieces, (chunk) => h264.push(chunk));

    expect(frames).toHaveLength(60); // testsrc2 changes every frame, so mpdecimate keeps them all
    expect(frames[0]!.keyframe).toBe(true);
    expect(new Set(screens.map((s) => `${s.width}x${s.height}`))).toEqual(new Set(["648x362"]));
    for (const frame of frames.filter((f) => f.keyframe)) {
      const types = splitLengthPrefixed(frame.data).map(nalUnitType);
      expect(types).toEqual(expect.arrayContaining([NAL_UNIT_TYPE.sps, NAL_UNIT_TYPE.pps]));
    }
  });
});
