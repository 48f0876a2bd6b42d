/**
 * A segment's one video track: the codec configuration read from a keyframe, and each recorded
 * frame turned into the bytes an MP4 sample holds. Whether a frame is a keyframe is read from its
 * bitstream, not taken from the recorder's flag: an MP4 sync sample the decoder cannot start at
 * would break seeking.
 */
import type { RecordedCodec } from "./contracts.ts";
import { NAL_TYPE, nalType, splitAnnexB } from "./codec/h264-annexb.ts";
import { parseSps, type SpsInfo } from "./codec/h264-sps.ts";
import { isVp8Keyframe, parseVp8Keyframe } from "./codec/vp8.ts";

export interface H264Track {
  codec: "h264";
  width: number;
  height: number;
  /** The sequence parameter set NAL unit (header byte included), as avcC stores it. */
  sps: Uint8Array;
  /** The picture parameter sets, in the order the keyframe carried them. */
  pps: Uint8Array[];
  spsInfo: SpsInfo;
}

export interface Vp8Track {
  codec: "vp8";
  width: number;
  height: number;
  /** The frame tag's version (0-3). */
  profile: number;
}

export type VideoTrack = H264Track | Vp8Track;

/** One recorded frame, read. */
export interface ReadFrame {
  /** The MP4 sample: H.264 as 4-byte length-prefixed NAL units, VP8 as is. May be empty. */
  sample: Uint8Array;
  keyframe: boolean;
  /** The configuration the frame carries (H.264: an SPS and PPS; VP8: every keyframe). */
  track?: VideoTrack;
}

/** The 4-byte NAL unit length prefix the avcC record announces (lengthSizeMinusOne = 3). */
export const NAL_LENGTH_BYTES = 4;

/**
 * Reads one frame as the recorder delivers it (contracts.ts RecordedFrame.data). Throws on bytes
 * that are not a frame of `codec`.
 */
export function readFrame(codec: RecordedCodec, data: Uint8Array): ReadFrame {
  return codec === "h264" ? readH264(data) : readVp8(data);
}

/** Whether two configurations decode alike, so frames of both can share one segment. */
export function sameTrack(a: VideoTrack, b: VideoTrack): boolean {
  if (a.codec === "vp8") {
    return b.codec === "vp8" && a.width === b.width && a.height === b.height && a.profile === b.profile;
  }
  if (b.codec !== "h264") return false;
  return (
    bytesEqual(a.sps, b.sps) &&
    a.pps.length === b.pps.length &&
    a.pps.every((p, i) => bytesEqual(p, b.pps[i]!))
  );
}

function readH264(accessUnit: Uint8Array): ReadFrame {
  const units = splitAnnexB(accessUnit);
  let sps: Uint8Array | undefined;
  const pps: Uint8Array[] = [];
  const kept: Uint8Array[] = [];
  let keyframe = false;
  for (const nal of units) {
    const type = nalType(nal);
    // Parameter sets go to the avcC record (one per segment, as segments close on a change);
    // access unit delimiters carry nothing an MP4 sample needs (ISO/IEC 14496-15 §5.3.2).
    if (type === NAL_TYPE.sps) sps ??= Uint8Array.from(nal);
    else if (type === NAL_TYPE.pps) {
      if (!pps.some((p) => bytesEqual(p, nal))) pps.push(Uint8Array.from(nal));
    } else if (type !== NAL_TYPE.accessUnitDelimiter) {
      if (type === NAL_TYPE.idrSlice) keyframe = true;
      kept.push(nal);
    }
  }
  const sample = new Uint8Array(kept.reduce((sum, nal) => sum + NAL_LENGTH_BYTES + nal.length, 0));
  const view = new DataView(sample.buffer);
  let offset = 0;
  for (const nal of kept) {
    view.setUint32(offset, nal.length);
    sample.set(nal, offset + NAL_LENGTH_BYTES);
    offset += NAL_LENGTH_BYTES + nal.length;
  }
  if (!sps || pps.length === 0) return { sample, keyframe };
  const spsInfo = parseSps(Buffer.from(sps.buffer, sps.byteOffset, sps.byteLength));
  return {
    sample,
    keyframe,
    track: { codec: "h264", width: spsInfo.width, height: spsInfo.height, sps, pps, spsInfo },
  };
}

function readVp8(frame: Uint8Array): ReadFrame {
  if (frame.length === 0) throw new Error("an empty VP8 frame");
  // A copy: the caller's buffer may be reused for the next packet while the segment is open.
  const sample = Uint8Array.from(frame);
  if (!isVp8Keyframe(frame)) return { sample, keyframe: false };
  return { sample, keyframe: true, track: { codec: "vp8", ...parseVp8Keyframe(frame) } };
}

function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
