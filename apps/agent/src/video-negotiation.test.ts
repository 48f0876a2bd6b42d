import { describe, expect, it } from "vitest";
import { unusableVideoAnswer, videoCodecParameters } from "./video-negotiation.ts";

/** An answer whose video section lists `formats` ([payload type, encoding name]) on `port`. */
function answer(formats: [number, string][], port = 9) {
  return [
    "v=0",
    "o=- 1 1 IN IP4 0.0.0.0",
    "s=-",
    "t=0 0",
    `m=video ${port} UDP/TLS/RTP/SAVPF ${formats.map(([pt]) => pt).join(" ")}`,
    "a=mid:0",
    ...formats.map(([pt, name]) => `a=rtpmap:${pt} ${name}/90000`),
    "",
  ].join("\r\n");
}

describe("videoCodecParameters", () => {
  it("describes the codecs in the order given, H.264 with the agent's packetization", () => {
    const [vp8, h264] = videoCodecParameters(["vp8", "h264"]);
    expect([vp8!.mimeType, h264!.mimeType]).toEqual(["video/VP8", "video/H264"]);
    expect(vp8!.parameters).toBeUndefined();
    expect(h264!.parameters).toContain("packetization-mode=1");
  });
});

describe("unusableVideoAnswer", () => {
  it("accepts an answer with either codec, whatever else it lists", () => {
    expect(unusableVideoAnswer(answer([[96, "VP8"]]))).toBeUndefined();
    expect(
      unusableVideoAnswer(
        answer([
          [98, "VP9"],
          [97, "H264"],
        ]),
      ),
    ).toBeUndefined();
  });

  it("explains an answer that refuses the video (port 0)", () => {
    expect(unusableVideoAnswer(answer([[96, "VP8"]], 0))).toBe(
      "the viewer cannot decode H.264 or VP8 video (its answer: video refused)",
    );
  });

  it("names what an answer lists when neither codec is among it", () => {
    expect(
      unusableVideoAnswer(
        answer([
          [98, "VP9"],
          [45, "AV1"],
        ]),
      ),
    ).toBe("the viewer cannot decode H.264 or VP8 video (its answer: only VP9, AV1)");
  });

  it("leaves an answer that is not SDP to werift, whose error says so", () => {
    expect(unusableVideoAnswer("garbage")).toBeUndefined();
  });
});
