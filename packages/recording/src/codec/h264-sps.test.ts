import { describe, expect, it } from "vitest";
import { parseSps, spsPictureSize } from "./h264-sps.ts";

/** Writes SPS fields MSB first, for the syntax x264 never produces. */
class BitWriter {
  private bits: number[] = [];
  u(width: number, value: number) {
    for (let i = width - 1; i >= 0; i--) this.bits.push(Math.floor(value / 2 ** i) % 2);
    return this;
  }
  ue(value: number) {
    const code = value + 1;
    const width = Math.floor(Math.log2(code)) + 1;
    return this.u(width - 1, 0).u(width, code);
  }
  se(value: number) {
    return this.ue(value > 0 ? 2 * value - 1 : -2 * value);
  }
  nal(header: number): Buffer {
    this.u(1, 1); // rbsp_stop_one_bit
    while (this.bits.length % 8) this.bits.push(0);
    const bytes = [header];
    for (let i = 0; i < this.bits.length; i += 8) bytes.push(parseInt(this.bits.slice(i, i + 8).join(""), 2));
    return Buffer.from(bytes);
  }
}

/** SPS NAL units written by x264 (ffmpeg 5.1) for testsrc at the given size and options. */
const X264_SPS = [
  { size: [1280, 720], sps: "6742c01fda014016ec0440000003004000000f03c60ca8", note: "baseline, no cropping" },
  {
    size: [1366, 768],
    sps: "6742c020da01581879bc0440000003004000000f03c60ca8",
    note: "baseline, 10 columns cropped",
  },
  {
    size: [1920, 1080],
    sps: "6742c028da01e0089f970110000003001000000303c0f1832a",
    note: "baseline, 8 rows cropped",
  },
  {
    size: [322, 242],
    sps: "6742c00dda05421e22230110000003001000000303c0f142aa",
    note: "baseline, both cropped",
  },
  {
    size: [642, 362],
    sps: "67f4001e919680a42fe3e7c044000003000400000300f03c58ba80",
    note: "High 4:4:4: crop in luma samples",
  },
  {
    size: [1280, 722],
    sps: "677a0020bcd9405005df8fc044000003000400000300f03c60c658",
    note: "High 4:2:2: crop rows of one",
  },
  { size: [1280, 722], sps: "67640020acd9405005df88c044000003000400000300f03c60c658", note: "High 4:2:0" },
  {
    size: [640, 484],
    sps: "674d401ef4050107e230110000030001000003003c1f142aa0",
    note: "interlaced: crop in field pairs",
  },
];

describe("spsPictureSize", () => {
  it.each(X264_SPS)("reads $size.0×$size.1 from an x264 SPS ($note)", ({ size, sps }) => {
    expect(spsPictureSize(Buffer.from(sps, "hex"))).toEqual({
      width: size[0],
      height: size[1],
    });
  });

  it("reads past sequence scaling lists and picture order count type 1", () => {
    const w = new BitWriter().u(8, 100).u(8, 0).u(8, 40).ue(0); // High, level 4.0, id 0
    w.ue(1).ue(0).ue(0).u(1, 0); // 4:2:0, 8-bit, no transform bypass
    w.u(1, 1); // seq_scaling_matrix_present_flag
    w.u(1, 1); // list 0 present: 16 deltas, the last ones ending the list early (next scale 0)
    for (let j = 0; j < 5; j++) w.se(j % 2 ? -3 : 7);
    w.se(-(8 + 7 - 3 + 7 - 3 + 7)); // brings the scale to 0: the rest of list 0 repeats
    for (let i = 1; i < 8; i++) {
      w.u(1, i === 6 ? 1 : 0); // list 6 (8×8 intra luma) present, all deltas 0
      if (i === 6) for (let j = 0; j < 64; j++) w.se(0);
    }
    w.ue(0).ue(1).u(1, 0).se(-2).se(1).ue(2).se(4).se(-4); // frame_num bits; POC type 1, 2 cycles
    w.ue(1).u(1, 0).ue(119).ue(67).u(1, 1).u(1, 1); // refs; 120×68 MBs, progressive
    w.u(1, 1).ue(0).ue(0).ue(0).ue(4); // crop 8 rows at the bottom
    expect(spsPictureSize(w.nal(0x67))).toEqual({ width: 1920, height: 1080 });
  });

  it("throws on a truncated SPS instead of making up a size", () => {
    expect(() => spsPictureSize(Buffer.from("6742c01fda01", "hex"))).toThrow(/ended/);
  });
});

describe("parseSps", () => {
  it("reads the profile, constraint flags and level bytes the avcC record and MIME string copy", () => {
    expect(parseSps(Buffer.from(X264_SPS[0]!.sps, "hex"))).toMatchObject({
      profileIdc: 66,
      constraintFlags: 0xc0,
      levelIdc: 31,
      chromaFormatIdc: 1,
      bitDepthLuma: 8,
      bitDepthChroma: 8,
    });
  });

  it("reads the chroma format of the High profiles", () => {
    expect(parseSps(Buffer.from(X264_SPS[4]!.sps, "hex"))).toMatchObject({
      profileIdc: 244,
      chromaFormatIdc: 3,
    });
    expect(parseSps(Buffer.from(X264_SPS[5]!.sps, "hex"))).toMatchObject({
      profileIdc: 122,
      chromaFormatIdc: 2,
    });
  });
});
