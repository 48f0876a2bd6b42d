/**
 * The VP8 RTP payload format (RFC 7741 §4.2): a one-byte payload descriptor before each piece of
 * the frame, with the S bit (start of partition 0) on the first.
 */

const START_OF_FRAME = 0x10;

export function vp8Payloads(frame: Buffer, maxPayloadBytes: number): Buffer[] {
  const chunk = maxPayloadBytes - 1;
  const payloads: Buffer[] = [];
  for (let offset = 0; offset < frame.length; offset += chunk) {
    const descriptor = Buffer.of(offset === 0 ? START_OF_FRAME : 0x00);
    payloads.push(Buffer.concat([descriptor, frame.subarray(offset, offset + chunk)]));
  }
  return payloads;
}
