/**
 * The H.264 RTP payload format, non-interleaved mode (RFC 6184, packetization-mode=1): a NAL unit
 * that fits is sent as it is (single NAL unit packet, §5.6); a larger one is cut into FU-A
 * fragments (§5.8). Aggregation (STAP-A) is not used: it would only merge SPS and PPS, which come
 * once per keyframe.
 */
import { NAL_UNIT_TYPE, nalUnitType, splitLengthPrefixed } from "./h264-nal.ts";

const FU_A = 28;
/** FU indicator + FU header. */
const FU_HEADER_BYTES = 2;
const FU_START = 0x80;
const FU_END = 0x40;

/** `accessUnit`: length-prefixed NAL units (see EncodedFrame). */
export function h264Payloads(accessUnit: Buffer, maxPayloadBytes: number): Buffer[] {
  const payloads: Buffer[] = [];
  for (const nal of splitLengthPrefixed(accessUnit)) {
    // An AUD marks where an access unit starts in a byte stream; in RTP the timestamp and the
    // marker bit do that, so it would only cost a packet.
    if (nalUnitType(nal) === NAL_UNIT_TYPE.accessUnitDelimiter) continue;
    if (nal.length <= maxPayloadBytes) payloads.push(nal);
    else payloads.push(...fragments(nal, maxPayloadBytes));
  }
  return payloads;
}

/**
 * FU-A (§5.8): the NAL header's F and NRI bits go into the FU indicator, its type into the FU
 * header, and the rest of the NAL unit is spread over the fragments; the receiver rebuilds the
 * header from the two. A NAL unit that needs this is longer than one payload, so no fragment is
 * both start and end (which §5.8 forbids).
 */
function fragments(nal: Buffer, maxPayloadBytes: number): Buffer[] {
  const indicator = (nal[0]! & 0xe0) | FU_A;
  const type = nalUnitType(nal);
  const chunk = maxPayloadBytes - FU_HEADER_BYTES;
  const out: Buffer[] = [];
  for (let offset = 1; offset < nal.length; offset += chunk) {
    const end = Math.min(offset + chunk, nal.length);
    const header = (offset === 1 ? FU_START : 0) | (end === nal.length ? FU_END : 0) | type;
    out.push(Buffer.concat([Buffer.of(indicator, header), nal.subarray(offset, end)]));
  }
  return out;
}
