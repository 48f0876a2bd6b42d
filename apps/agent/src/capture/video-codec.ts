/** The video codecs the agent can encode, and how RTP and SDP name each of them. */

/** What `RD_AGENT_CODEC` accepts (config.ts says which is the default and why). */
export const VIDEO_CODECS = ["vp8", "h264"] as const;
export type VideoCodec = (typeof VIDEO_CODECS)[number];

/** The RTP encoding name (the `a=rtpmap` name, RFC 8866 §6.6), also what the stats report. */
export const RTP_ENCODING_NAME: Record<VideoCodec, string> = { vp8: "VP8", h264: "H264" };

/** Every codec, `preferred` first: the order the agent offers them in. */
export function codecsByPreference(preferred: VideoCodec): VideoCodec[] {
  return [preferred, ...VIDEO_CODECS.filter((codec) => codec !== preferred)];
}

/** The codec a MIME type ("video/H264") or encoding name ("h264") names, if the agent encodes it. */
export function videoCodecOf(name: string | undefined): VideoCodec | undefined {
  const encoding = name?.replace(/^video\//i, "").toUpperCase();
  return VIDEO_CODECS.find((codec) => RTP_ENCODING_NAME[codec] === encoding);
}
