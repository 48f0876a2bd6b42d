/** @rd/recording: session recording — segments, their encryption at rest, and where they are stored. */
export type {
  ClosedSegment,
  RecordedCodec,
  RecordedFrame,
  RecordingStore,
  RecordingStoreErrorCode,
} from "./contracts.ts";
export { Segmenter, SEGMENTER_DEFAULTS, type SegmenterOptions } from "./segmenter.ts";
export {
  initSegment,
  mediaSegment,
  mimeType,
  TIMESCALE,
  writeSegment,
  type Fragment,
  type Sample,
} from "./fmp4.ts";
export {
  readFrame,
  sameTrack,
  type H264Track,
  type ReadFrame,
  type VideoTrack,
  type Vp8Track,
} from "./track.ts";
export { sameInit, splitSegment, type SegmentParts } from "./segment-parts.ts";
export {
  createKeyring,
  openSegment,
  RecordingKeyUnwrapFailed,
  sealSegment,
  SegmentTampered,
  type RecordingKeyring,
} from "./segment-crypto.ts";
export { InvalidStoreKey, RecordingStoreError } from "./stores/store-error.ts";
export { checkKey, checkPrefix, recordingPrefix, segmentKey } from "./stores/keys.ts";
export { LocalStore } from "./stores/local.ts";
export { S3Store, type S3StoreConfig } from "./stores/s3.ts";
export { createStore, loadRecordingConfig, type RecordingConfig } from "./config.ts";
export {
  isVp8Keyframe,
  NAL_TYPE,
  nalType,
  parseSps,
  parseVp8Keyframe,
  RbspReader,
  splitAnnexB,
  spsPictureSize,
  type PictureSize,
  type SpsInfo,
  type Vp8Keyframe,
} from "./codec/index.ts";
export { RecorderService, type RecorderServiceOptions } from "./recorder/recorder-service.ts";
export { SEGMENT_MAX_MS, SessionRecorder, type SessionRecorderOptions } from "./recorder/session-recorder.ts";
export { sweepRetention } from "./recorder/retention.ts";
export {
  chainedSegments,
  verifyRecording,
  type RecordingVerification,
  type SegmentProblem,
  type SegmentProblemReason,
} from "./verify-recording.ts";
