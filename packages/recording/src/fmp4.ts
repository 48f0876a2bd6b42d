/**
 * A fragmented MP4 writer for one video track (ISO/IEC 14496-12; sample entries from ISO/IEC
 * 14496-15 for H.264 and the VP Codec ISO Media File Format Binding for VP8), written from the
 * specifications. A recording segment is an init part (ftyp + moov) followed by one movie
 * fragment (moof + mdat), so every segment file plays alone, and a player can append the segments
 * of a recording to one MSE SourceBuffer in order. (Appending an identical init part again is
 * legal — Media Source Extensions §3.5.7 — but Chromium then drops frames up to the next keyframe;
 * segment-parts.ts splits the parts for a player that appends the init part only when it changes.)
 *
 * Timescale: 1000 ticks a second. Frame times arrive as milliseconds on the recording's clock, so
 * milliseconds store them without rounding; 90 kHz would only add precision the arrival times do
 * not have. Decode times are absolute on that clock (tfdt = ms since the recording started), so
 * the time between two segments survives concatenation.
 *
 * Samples are stored in decode order with no composition offsets: WebRTC video has no B-frames,
 * so decode order is presentation order.
 */
import { box, concat, fourcc, fullBox, i16, u16, u32, u64, u8, zeros, type Bytes } from "./bmff.ts";
import { NAL_LENGTH_BYTES, type H264Track, type VideoTrack, type Vp8Track } from "./track.ts";

/** Ticks per second of the movie and of the track. */
export const TIMESCALE = 1000;

const TRACK_ID = 1;

export interface Sample {
  /** The sample's bytes: H.264 length-prefixed NAL units, or a VP8 frame. */
  data: Uint8Array;
  /** Ticks (ms) until the next sample; at least 1. */
  duration: number;
  keyframe: boolean;
}

export interface Fragment {
  /** mfhd sequence number: the segment's seq (starts at 1, increases by one). */
  sequenceNumber: number;
  /** tfdt: the first sample's decode time, in ms since the recording started. */
  baseDecodeTime: number;
  samples: Sample[];
}

/** A self-contained segment: ftyp + moov for `track`, then moof + mdat for `fragment`. */
export function writeSegment(track: VideoTrack, fragment: Fragment): Uint8Array {
  const { moof, mdatHeader } = movieFragment(fragment);
  return concat([initSegment(track), moof, mdatHeader, ...fragment.samples.map((s) => s.data)]);
}

/** ftyp + moov: what a decoder needs before the first fragment. */
export function initSegment(track: VideoTrack): Uint8Array {
  return concat([ftyp(), moov(track)]);
}

/** moof + mdat for one fragment. */
export function mediaSegment(fragment: Fragment): Uint8Array {
  const { moof, mdatHeader } = movieFragment(fragment);
  return concat([moof, mdatHeader, ...fragment.samples.map((s) => s.data)]);
}

/**
 * The MIME type with codecs parameter (RFC 6381) for `MediaSource.isTypeSupported` and
 * `addSourceBuffer`: `avc1.PPCCLL` from the SPS profile, constraint and level bytes, or
 * `vp08.PP.LL.DD` (profile, level, bit depth; VP codec binding "Codecs Parameter String").
 *
 * Chromium's MP4 demuxer knows `vp09` but not `vp08` sample entries, so it refuses VP8 segments
 * (isTypeSupported is false) while ffmpeg plays them; a player should check isTypeSupported.
 */
export function mimeType(track: VideoTrack): string {
  if (track.codec === "h264") {
    const { profileIdc, constraintFlags, levelIdc } = track.spsInfo;
    return `video/mp4; codecs="avc1.${hex2(profileIdc)}${hex2(constraintFlags)}${hex2(levelIdc)}"`;
  }
  return `video/mp4; codecs="vp08.${dec2(track.profile)}.${dec2(VP8_LEVEL)}.${dec2(VP8_BIT_DEPTH)}"`;
}

// --- init part -------------------------------------------------------------------------------

/**
 * iso6: the brand of the ISO BMFF edition with the fragment tools used here (tfdt,
 * default-base-is-moof); isom: the generic brand every reader accepts.
 */
function ftyp(): Bytes {
  return box("ftyp", fourcc("iso6"), u32(0), fourcc("iso6"), fourcc("isom"));
}

/** The unity transformation matrix (§8.2.2.3), 16.16 and 2.30 fixed point. */
const UNITY_MATRIX = [0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000].map(u32);

function moov(track: VideoTrack): Bytes {
  return box("moov", mvhd(), trak(track), box("mvex", trex()));
}

/** Durations are 0: a fragmented movie's length is the sum of its fragments (§8.8.1). */
function mvhd(): Bytes {
  return fullBox(
    "mvhd",
    0,
    0,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(TIMESCALE),
    u32(0), // duration
    u32(0x00010000), // rate 1.0
    u16(0x0100), // volume 1.0
    zeros(2 + 8), // reserved
    ...UNITY_MATRIX,
    zeros(24), // pre_defined
    u32(TRACK_ID + 1), // next_track_ID
  );
}

function trak(track: VideoTrack): Bytes {
  return box("trak", tkhd(track), box("mdia", mdhd(), hdlr(), minf(track)));
}

/** Flags 3: track_enabled | track_in_movie. */
function tkhd(track: VideoTrack): Bytes {
  return fullBox(
    "tkhd",
    0,
    3,
    u32(0), // creation_time
    u32(0), // modification_time
    u32(TRACK_ID),
    zeros(4), // reserved
    u32(0), // duration
    zeros(8), // reserved
    u16(0), // layer
    u16(0), // alternate_group
    u16(0), // volume: 0 for video
    zeros(2), // reserved
    ...UNITY_MATRIX,
    u32(track.width * 0x10000), // 16.16
    u32(track.height * 0x10000),
  );
}

/** Language "und" packed as three 5-bit letters offset by 0x60 (§8.4.2.3). */
const LANGUAGE_UND =
  (("u".charCodeAt(0) - 0x60) << 10) | (("n".charCodeAt(0) - 0x60) << 5) | ("d".charCodeAt(0) - 0x60);

function mdhd(): Bytes {
  return fullBox("mdhd", 0, 0, u32(0), u32(0), u32(TIMESCALE), u32(0), u16(LANGUAGE_UND), u16(0));
}

function hdlr(): Bytes {
  const name = new TextEncoder().encode("VideoHandler\0");
  return fullBox("hdlr", 0, 0, u32(0), fourcc("vide"), zeros(12), name);
}

function minf(track: VideoTrack): Bytes {
  // vmhd flags 1 is required by the spec (§12.1.2.2); the url entry flag 1 says "media in this file".
  const vmhd = fullBox("vmhd", 0, 1, u16(0), zeros(6));
  const dinf = box("dinf", fullBox("dref", 0, 0, u32(1), fullBox("url ", 0, 1)));
  return box("minf", vmhd, dinf, stbl(track));
}

/** Only the sample description: a fragmented file keeps its samples in the fragments (§8.8). */
function stbl(track: VideoTrack): Bytes {
  return box(
    "stbl",
    fullBox("stsd", 0, 0, u32(1), track.codec === "h264" ? avc1(track) : vp08(track)),
    fullBox("stts", 0, 0, u32(0)),
    fullBox("stsc", 0, 0, u32(0)),
    fullBox("stsz", 0, 0, u32(0), u32(0)),
    fullBox("stco", 0, 0, u32(0)),
  );
}

/** VisualSampleEntry (§12.1.3) fields shared by both codecs. */
function visualSampleEntry(type: string, track: VideoTrack, ...children: Bytes[]): Bytes {
  return box(
    type,
    zeros(6), // reserved
    u16(1), // data_reference_index: the dref entry above
    zeros(16), // pre_defined, reserved
    u16(track.width),
    u16(track.height),
    u32(0x00480000), // 72 dpi
    u32(0x00480000),
    zeros(4), // reserved
    u16(1), // frame_count
    zeros(32), // compressorname: empty
    u16(0x0018), // depth: colour without alpha
    i16(-1), // pre_defined
    ...children,
  );
}

function avc1(track: H264Track): Bytes {
  return visualSampleEntry("avc1", track, avcC(track));
}

/** AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1). */
function avcC(track: H264Track): Bytes {
  const { profileIdc, constraintFlags, levelIdc } = track.spsInfo;
  const parameterSet = (nal: Uint8Array) => concat([u16(nal.length), nal]);
  const fields = [
    u8(1), // configurationVersion
    u8(profileIdc),
    u8(constraintFlags),
    u8(levelIdc),
    u8(0xfc | (NAL_LENGTH_BYTES - 1)), // reserved 6 bits, lengthSizeMinusOne
    u8(0xe0 | 1), // reserved 3 bits, numOfSequenceParameterSets
    parameterSet(track.sps),
    u8(track.pps.length),
    ...track.pps.map(parameterSet),
  ];
  // The High profiles add chroma format and bit depths to the record (§5.3.3.1.2).
  if (HIGH_PROFILES_WITH_EXTENSION.has(profileIdc)) {
    const { chromaFormatIdc, bitDepthLuma, bitDepthChroma } = track.spsInfo;
    fields.push(
      u8(0xfc | chromaFormatIdc),
      u8(0xf8 | (bitDepthLuma - 8)),
      u8(0xf8 | (bitDepthChroma - 8)),
      u8(0),
    );
  }
  return box("avcC", ...fields);
}

const HIGH_PROFILES_WITH_EXTENSION = new Set([100, 110, 122, 144]);

/**
 * VP8 has no levels; the binding's codec string still needs one, and "10" (level 1) is what
 * browsers and packagers write for VP8.
 */
const VP8_LEVEL = 10;
const VP8_BIT_DEPTH = 8;
/** vpcC chromaSubsampling 1: 4:2:0 with chroma samples co-sited with luma, as VP8 decodes. */
const VP8_CHROMA_420_COLOCATED = 1;
/** ISO/IEC 23091-4 code points: BT.601 (VP8's colour space, RFC 6386 §9.2) for all three. */
const BT601 = { primaries: 6, transfer: 6, matrix: 6 };

function vp08(track: Vp8Track): Bytes {
  return visualSampleEntry("vp08", track, vpcC(track));
}

/** VPCodecConfigurationBox, version 1 (VP Codec ISO Media File Format Binding §2.2). */
function vpcC(track: Vp8Track): Bytes {
  return fullBox(
    "vpcC",
    1,
    0,
    u8(track.profile),
    u8(VP8_LEVEL),
    u8((VP8_BIT_DEPTH << 4) | (VP8_CHROMA_420_COLOCATED << 1)), // videoFullRangeFlag 0
    u8(BT601.primaries),
    u8(BT601.transfer),
    u8(BT601.matrix),
    u16(0), // codecInitializationDataSize: VP8 has none
  );
}

function trex(): Bytes {
  // Every fragment states its samples' durations, sizes and flags, so the defaults are unused.
  return fullBox("trex", 0, 0, u32(TRACK_ID), u32(1), u32(0), u32(0), u32(0));
}

// --- media part ------------------------------------------------------------------------------

/** tfhd default-base-is-moof: trun data offsets count from the moof's first byte (§8.8.7.1). */
const TFHD_DEFAULT_BASE_IS_MOOF = 0x020000;
/** trun: data-offset, sample-duration, sample-size and sample-flags present (§8.8.8.1). */
const TRUN_FLAGS = 0x000001 | 0x000100 | 0x000200 | 0x000400;
/**
 * Sample flags (§8.8.3.1): a keyframe depends on no other sample (sample_depends_on = 2) and is a
 * sync sample; any other frame depends on others (1) and is not (sample_is_non_sync_sample).
 */
const SYNC_SAMPLE_FLAGS = 2 << 24;
const NON_SYNC_SAMPLE_FLAGS = (1 << 24) | 0x10000;
const MDAT_HEADER_BYTES = 8;

function movieFragment(fragment: Fragment): { moof: Bytes; mdatHeader: Bytes } {
  if (fragment.samples.length === 0) throw new RangeError("a movie fragment needs at least one sample");
  const mdatBytes = fragment.samples.reduce((sum, s) => sum + s.data.length, 0);
  // The trun's data offset is moof's own size plus the mdat header; the moof's size does not
  // depend on the offset's value, so build it once to measure it.
  const measured = moof(fragment, 0).length;
  return {
    moof: moof(fragment, measured + MDAT_HEADER_BYTES),
    mdatHeader: concat([u32(MDAT_HEADER_BYTES + mdatBytes), fourcc("mdat")]),
  };
}

function moof(fragment: Fragment, dataOffset: number): Bytes {
  const samples = fragment.samples.flatMap((s) => {
    if (!Number.isInteger(s.duration) || s.duration < 1)
      throw new RangeError(`sample duration ${s.duration}`);
    return [u32(s.duration), u32(s.data.length), u32(s.keyframe ? SYNC_SAMPLE_FLAGS : NON_SYNC_SAMPLE_FLAGS)];
  });
  return box(
    "moof",
    fullBox("mfhd", 0, 0, u32(fragment.sequenceNumber)),
    box(
      "traf",
      fullBox("tfhd", 0, TFHD_DEFAULT_BASE_IS_MOOF, u32(TRACK_ID)),
      // Version 1: a 64-bit decode time, never wrapping however long the recording runs.
      fullBox("tfdt", 1, 0, u64(fragment.baseDecodeTime)),
      fullBox("trun", 0, TRUN_FLAGS, u32(fragment.samples.length), u32(dataOffset), ...samples),
    ),
  );
}

function hex2(value: number): string {
  return value.toString(16).padStart(2, "0");
}

function dec2(value: number): string {
  return String(value).padStart(2, "0");
}
