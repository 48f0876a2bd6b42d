/**
 * @rd/recording/codec: bitstream parsing shared with the agent (which reads the SPS of its own
 * encoder's output). A subpath of its own so that importing it loads no store, SDK or database.
 */
export { RbspReader } from "./rbsp-reader.ts";
export { parseSps, spsPictureSize, type PictureSize, type SpsInfo } from "./h264-sps.ts";
export { NAL_TYPE, nalType, splitAnnexB } from "./h264-annexb.ts";
export { isVp8Keyframe, parseVp8Keyframe, type Vp8Keyframe } from "./vp8.ts";
