/** What an encoder hands to the viewers: one frame, ready for its codec's RTP payload format. */

export interface EncodedFrame {
  /**
   * VP8: the frame as libvpx wrote it. H.264: one access unit as AVC length-prefixed NAL units
   * (each preceded by its 4-byte big-endian size, ISO/IEC 14496-15 §5.3.4.2), as FLV carries them.
   */
  data: Buffer;
  /** Decodable on its own: a VP8 keyframe, an H.264 IDR access unit. */
  keyframe: boolean;
}

export interface ScreenSize {
  width: number;
  height: number;
}

/** Where a reader of the encoder's output delivers what it finds there. */
export interface FrameEvents {
  onScreen(size: ScreenSize): void;
  onFrame(frame: EncodedFrame): void;
}
