/**
 * The shapes the recording package's parts agree on: the recorder writes segments through a
 * RecordingStore sealed with a recording's key; the dashboard reads them back the same way.
 */

/** Where sealed segments live: local files under DATA_DIR, or an S3-compatible bucket. */
export interface RecordingStore {
  readonly kind: "local" | "s3";
  /** Writes one object whole; rejects (with a RecordingStoreError) when the store refuses it. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Reads one object whole; rejects with RecordingStoreError code "not_found" when it is missing. */
  get(key: string): Promise<Uint8Array>;
  /** Removes every object whose key starts with `prefix` (a recording's directory). */
  deletePrefix(prefix: string): Promise<void>;
}

export type RecordingStoreErrorCode = "not_found" | "full" | "unavailable";

/** One encoded video frame as the recorder receives it. */
export interface RecordedFrame {
  /** H.264: an Annex B access unit (start codes; keyframes carry SPS and PPS). VP8: one frame. */
  data: Uint8Array;
  keyframe: boolean;
  /** Milliseconds on the recording's clock (from its start), when the frame arrived. */
  timeMs: number;
}

/** A closed segment, ready to seal and store. */
export interface ClosedSegment {
  seq: number;
  /** A self-contained fragmented MP4: ftyp + moov + moof + mdat. */
  bytes: Uint8Array;
  /** The first frame's time on the recording's clock: the fragment's decode time (tfdt). */
  startMs: number;
  /** Up to the next segment's first frame, or one frame interval past the last frame. */
  durationMs: number;
  /**
   * The hole in the recording's time before this segment: its startMs minus the previous
   * segment's startMs + durationMs (0 when they touch); for the first segment, its startMs.
   */
  gapBeforeMs: number;
  /** Whether the segment starts with a keyframe (false after a maxMs cut or a gap). */
  keyframe: boolean;
  /**
   * The MIME type with codecs parameter of the segment's track (fmp4.ts mimeType), for the
   * player's `addSourceBuffer` / `changeType`; it changes only where the configuration does.
   */
  mimeType: string;
  /** The picture size of the segment's track. */
  width: number;
  height: number;
}

export type RecordedCodec = "h264" | "vp8";
