/**
 * The RTP header extensions the agent offers for video, and the ones it writes itself.
 *
 * playout-delay (webrtc.org's; Chrome implements it, Firefox ignores it): each frame says how long
 * the receiver may hold it. 0 to 0 ms puts Chrome on its low-latency path, which decodes and shows a
 * frame as soon as it is complete. Without it Chrome times each frame's display from its jitter
 * estimate, and on a quiet screen (a few small frames a second at uneven intervals) that estimate
 * now and then holds a keystroke's frame back by ~200 ms: bench:media saw the agent send the frame
 * 15-30 ms after the key and the page show it 200-250 ms after, a few times in every 60 samples.
 * `jitterBufferTarget = 0` on the viewer sets only the minimum.
 *
 * abs-send-time: when each packet left. Without it Chrome's receive-side estimator takes a packet's
 * RTP timestamp (the frame's) for its send time, so a frame the pacer spreads out looks like a
 * queue building on the link, and a paced stream's estimate fell 15 % a second, to 250 kbit/s on a
 * 0.5 Mbit/s link (bench:media). werift would stamp it, but from a clock that writes a second's
 * decimal digits as its binary fraction (webrtc/src/utils.ts ntpTime), which leaves whole seconds:
 * the agent stamps each packet itself as the pacer sends it, and werift keeps a payload it was given.
 */
import { RTCRtpHeaderExtensionParameters, type RtpPacket } from "werift";

export const PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";
export const ABS_SEND_TIME_URI = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

/** Minimum and maximum delay, 12 bits each in 10 ms units: both 0. */
const ZERO_DELAY = Buffer.from([0, 0, 0]);

/** The video header extensions the agent's offer lists. */
export function offeredVideoExtensions(): RTCRtpHeaderExtensionParameters[] {
  // werift numbers the offer's extensions itself (from 1), whatever id is given here.
  return [PLAYOUT_DELAY_URI, ABS_SEND_TIME_URI].map(
    (uri, i) => new RTCRtpHeaderExtensionParameters({ id: i + 1, uri }),
  );
}

/**
 * The extension to put on the first packet of every frame, if the viewer's answer accepted it
 * (a browser that does not know it leaves it out, and the frames then go without).
 */
export function zeroPlayoutDelay(answerSdp: string): { id: number; payload: Buffer } | undefined {
  const id = extensionId(answerSdp, PLAYOUT_DELAY_URI);
  return id === undefined ? undefined : { id, payload: ZERO_DELAY };
}

/** The id to stamp each packet's send time under, if the viewer's answer accepted it. */
export function sendTimeId(answerSdp: string): number | undefined {
  return extensionId(answerSdp, ABS_SEND_TIME_URI);
}

/** abs-send-time's payload for `epochMs`: seconds in 6.18 fixed point, 24 bits (so modulo 64 s). */
export function absSendTime(epochMs: number): Buffer {
  const units = Math.round(((epochMs / 1000) % 64) * 2 ** 18) & 0xffffff;
  const payload = Buffer.alloc(3);
  payload.writeUIntBE(units, 0, 3);
  return payload;
}

/** Sets a header extension on `packet`: a packet sent again (retransmission.ts) has it already. */
export function setExtension(packet: RtpPacket, id: number, payload: Buffer): void {
  const existing = packet.header.extensions.find((extension) => extension.id === id);
  if (existing) existing.payload = payload;
  else packet.header.extensions.push({ id, payload });
}

function extensionId(answerSdp: string, uri: string): number | undefined {
  const escaped = uri.replace(/[.]/g, "\\.");
  const match = new RegExp(`^a=extmap:(\\d+)(?:/\\w+)? ${escaped}\\s*$`, "m").exec(answerSdp);
  if (!match) return undefined;
  // The answer keeps the offer's id (RFC 8285 §6); the one-byte header form has ids 1-14.
  const id = Number(match[1]);
  return id >= 1 && id <= 14 ? id : undefined;
}
