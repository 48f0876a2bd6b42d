/**
 * Turns an encoder's output into frames, whichever container its codec travels in: IVF for VP8,
 * FLV for H.264 (see h264-flv-reader.ts for why not raw H.264).
 */
import type { FrameEvents } from "./encoded-frame.ts";
import { H264FlvReader } from "./h264-flv-reader.ts";
import { IvfReader } from "./ivf-reader.ts";
import type { VideoCodec } from "./video-codec.ts";

export interface FrameReader {
  /** Feeds bytes as they come from the pipe; throws when the stream is unreadable. */
  push(chunk: Buffer): void;
}

export function createFrameReader(codec: VideoCodec, events: FrameEvents): FrameReader {
  switch (codec) {
    case "vp8":
      return new IvfReader(
        (header) => events.onScreen({ width: header.width, height: header.height }),
        (frame) => events.onFrame(frame),
      );
    case "h264":
      return new H264FlvReader(events);
  }
}
