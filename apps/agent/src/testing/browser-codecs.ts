/**
 * How a browser's answer describes the codecs it decodes, for werift viewers in tests: H.264 as
 * Chromium announces Constrained Baseline, VP8, and VP9 (which the agent does not send).
 */
import { RTCRtpCodecParameters } from "werift";

export const BROWSER_CODECS = {
  h264: new RTCRtpCodecParameters({
    mimeType: "video/H264",
    clockRate: 90_000,
    rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }],
    parameters: "packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1",
  }),
  vp8: new RTCRtpCodecParameters({
    mimeType: "video/VP8",
    clockRate: 90_000,
    rtcpFeedback: [{ type: "nack" }, { type: "nack", parameter: "pli" }],
  }),
  vp9: new RTCRtpCodecParameters({ mimeType: "video/VP9", clockRate: 90_000 }),
};
