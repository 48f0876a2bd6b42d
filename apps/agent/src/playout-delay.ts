/**
 * The playout-delay RTP header extension (webrtc.org's; Chrome implements it, Firefox ignores it).
 * Each frame says how long the receiver may hold it: 0 to 0 ms puts Chrome on its low-latency path,
 * which decodes and shows a frame as soon as it is complete. Without it Chrome times each frame's
 * display from its jitter estimate, and on a quiet screen (a few small frames a second at uneven
 * intervals) that estimate now and then holds a keystroke's frame back by ~200 ms: bench:media saw
 * the agent send the frame 15-30 ms after the key and the page show it 200-250 ms after, a few
 * times in every 60 samples. `jitterBufferTarget = 0` on the viewer sets only the minimum.
 */
import { RTCRtpHeaderExtensionParameters } from "werift";

export const PLAYOUT_DELAY_URI = "http://www.webrtc.org/experiments/rtp-hdrext/playout-delay";

/** Minimum and maximum delay, 12 bits each in 10 ms units: both 0. */
const ZERO_DELAY = Buffer.from([0, 0, 0]);

/** The video header extensions the agent's offer lists. */
export function offeredVideoExtensions(): RTCRtpHeaderExtensionParameters[] {
  // werift numbers the offer's extensions itself (from 1), whatever id is given here.
  return [new RTCRtpHeaderExtensionParameters({ id: 1, uri: PLAYOUT_DELAY_URI })];
}

/**
 * The extension to put on the first packet of every frame, if the viewer's answer accepted it
 * (a browser that does not know it leaves it out, and the frames then go without).
 */
export function zeroPlayoutDelay(answerSdp: string): { id: number; payload: Buffer } | undefined {
  const escaped = PLAYOUT_DELAY_URI.replace(/[.]/g, "\\.");
  const match = new RegExp(`^a=extmap:(\\d+)(?:/\\w+)? ${escaped}\\s*$`, "m").exec(answerSdp);
  if (!match) return undefined;
  // The answer keeps the offer's id (RFC 8285 §6); the one-byte header form has ids 1-14.
  const id = Number(match[1]);
  return id >= 1 && id <= 14 ? { id, payload: ZERO_DELAY } : undefined;
}
