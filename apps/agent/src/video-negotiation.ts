/**
 * The video half of the agent's offer/answer exchange: which codecs the offer lists, in the agent's
 * order of preference, and why a viewer's answer leaves nothing the agent can send. Which codec the
 * answer chose is werift's to say (the sender's codec); this only explains the failures.
 */
import { RTCRtpCodecParameters, SessionDescription } from "werift";
import { RTP_ENCODING_NAME, type VideoCodec, videoCodecOf } from "./capture/video-codec.ts";

/**
 * The offer's video codecs, `codecs[0]` the agent's preference (RFC 3264 §5.1: the offerer lists
 * them in that order). werift numbers them from 96 in this order. The feedback is what the agent
 * acts on: NACK (a retransmission through the pacer, retransmission.ts), PLI and FIR (a fresh
 * keyframe) and REMB (the bitrate).
 */
export function videoCodecParameters(codecs: readonly VideoCodec[]): RTCRtpCodecParameters[] {
  return codecs.map(
    (codec) =>
      new RTCRtpCodecParameters({
        mimeType: `video/${RTP_ENCODING_NAME[codec]}`,
        clockRate: 90_000,
        rtcpFeedback: [
          { type: "nack" },
          { type: "nack", parameter: "pli" },
          { type: "ccm", parameter: "fir" },
          { type: "goog-remb" },
        ],
        // H.264 (RFC 6184 §8.1): FU-A needs mode 1, and 42e01f is Constrained Baseline, which x264
        // writes for -profile:v baseline. x264 picks the level for the frame size (4.0 for 1080p) and
        // browsers decode it although they announce 3.1 (1f) themselves; level-asymmetry-allowed says
        // the two directions may differ.
        ...(codec === "h264"
          ? { parameters: "packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1" }
          : {}),
      }),
  );
}

/**
 * Why `answer` leaves the agent no video codec to send, or undefined when it names one. A viewer
 * that cannot decode any offered codec rejects the video section (port 0, RFC 3264 §6); one that
 * answers with codecs the agent never offered would be refused by werift with a bare "no common
 * codec", so both are caught here with a reason a technician can act on.
 */
export function unusableVideoAnswer(answer: string): string | undefined {
  let video;
  try {
    video = SessionDescription.parse(answer).media.find((m) => m.kind === "video");
  } catch {
    video = undefined;
  }
  // Not SDP, or no video section at all: a broken answer, which werift's own error describes better.
  if (!video) return undefined;
  const names = video.rtp.codecs.map((codec) => codec.mimeType.replace(/^video\//i, ""));
  if (video.port !== 0 && names.some((name) => videoCodecOf(name))) return undefined;
  const what = video.port === 0 ? "video refused" : `only ${names.join(", ")}`;
  return `the viewer cannot decode H.264 or VP8 video (its answer: ${what})`;
}
