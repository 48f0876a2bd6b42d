/**
 * H.264 access units out of ffmpeg's FLV output: one video tag per access unit (FLV spec Annex E,
 * AVCVIDEOPACKET), its NAL units length-prefixed. Keyframe = the access unit holds an IDR slice;
 * the screen size comes from the SPS, which ffmpeg repeats on every keyframe (`dump_extra`).
 *
 * Why FLV and not raw Annex-B (`-f h264`): a byte stream marks where NAL units start, never where
 * an access unit ends, so its last NAL unit is only known complete when the next access unit's
 * first start code (or AUD) arrives — and the next one may be a second away, because mpdecimate
 * drops unchanged frames: the frame showing a typed character would wait for the next change or
 * the 1 fps heartbeat. An FLV tag states its size, so each access unit leaves the moment its last
 * byte is read, exactly as an IVF frame does for VP8.
 */
import { spsPictureSize } from "@rd/recording/codec";
import type { FrameEvents, ScreenSize } from "./encoded-frame.ts";
import { FLV_TAG_TYPE, FlvReader, type FlvTag } from "./flv-reader.ts";
import { NAL_LENGTH_BYTES, NAL_UNIT_TYPE, nalUnitType, splitLengthPrefixed } from "./h264-nal.ts";

const AVC_CODEC_ID = 7;
const AVC_PACKET_TYPE = { sequenceHeader: 0, nalUnits: 1, endOfSequence: 2 } as const;
/** Frame type/codec (1), AVC packet type (1), composition time (3). */
const AVC_HEADER_BYTES = 5;
/** AVCDecoderConfigurationRecord byte 4: reserved bits, then lengthSizeMinusOne. */
const LENGTH_SIZE_OFFSET = 4;

export class H264FlvReader {
  private readonly flv = new FlvReader((tag) => this.onTag(tag));
  private readonly events: FrameEvents;

  constructor(events: FrameEvents) {
    this.events = events;
  }

  /** Feeds bytes; throws when they are not H.264 in FLV (an encoder failure for the caller). */
  push(chunk: Buffer): void {
    this.flv.push(chunk);
  }

  private onTag(tag: FlvTag) {
    // The script tag (onMetaData) holds nothing the SPS does not say exactly.
    if (tag.type !== FLV_TAG_TYPE.video) return;
    if (tag.data.length < AVC_HEADER_BYTES || (tag.data[0]! & 0x0f) !== AVC_CODEC_ID) {
      throw new Error("an FLV video tag that is not H.264");
    }
    const body = tag.data.subarray(AVC_HEADER_BYTES);
    switch (tag.data[1]) {
      case AVC_PACKET_TYPE.sequenceHeader: {
        const lengthField = body[LENGTH_SIZE_OFFSET];
        if (lengthField === undefined) throw new Error("a truncated H.264 decoder configuration record");
        const lengthBytes = (lengthField & 0x03) + 1;
        if (lengthBytes !== NAL_LENGTH_BYTES) {
          throw new Error(`H.264 NAL unit sizes of ${lengthBytes} bytes (only ${NAL_LENGTH_BYTES} are read)`);
        }
        return;
      }
      case AVC_PACKET_TYPE.nalUnits:
        return this.onAccessUnit(body);
      case AVC_PACKET_TYPE.endOfSequence:
        return;
      default:
        throw new Error(`an unknown AVC packet type ${tag.data[1]}`);
    }
  }

  private onAccessUnit(accessUnit: Buffer) {
    let keyframe = false;
    let screen: ScreenSize | undefined;
    for (const nal of splitLengthPrefixed(accessUnit)) {
      const type = nalUnitType(nal);
      if (type === NAL_UNIT_TYPE.idrSlice) keyframe = true;
      else if (type === NAL_UNIT_TYPE.sps) screen = spsPictureSize(nal);
    }
    if (screen) this.events.onScreen(screen);
    if (accessUnit.length > 0) this.events.onFrame({ data: accessUnit, keyframe });
  }
}
