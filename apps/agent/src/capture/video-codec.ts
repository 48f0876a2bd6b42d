/** The video codecs the agent can encode, and how RTP and SDP name each of them. */

/** What `RD_AGENT_CODEC` accepts; VP8 is the default (every WebRTC browser decodes it). */
export const VIDEO_CODECS = ["vp8", "h264"] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

/** The RTP encoding name (the `a=rtpmap` name, RFC 8866 §6.6), also what the stats report. */
export const RTP_ENCODING_NAME: Record<VideoCodec, string> = { vp8: "VP8", h264: "H264" };
