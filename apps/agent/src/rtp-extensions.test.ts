import { describe, expect, it } from "vitest";
import {
  ABS_SEND_TIME_URI,
  absSendTime,
  PLAYOUT_DELAY_URI,
  sendTimeId,
  zeroPlayoutDelay,
} from "./rtp-extensions.ts";

/** What Chrome answers to an offer listing the extension (its own id list trimmed to it). */
const answer = (line: string) =>
  ["v=0", "m=video 9 UDP/TLS/RTP/SAVPF 96", line, "a=rtpmap:96 H264/90000", ""].join("\r\n");

/** The offer and the frames that carry it are tested against a real viewer in peer.test.ts. */
describe("zero playout delay", () => {
  it("goes on the frames by the id the answer kept, as min = max = 0", () => {
    expect(zeroPlayoutDelay(answer(`a=extmap:1 ${PLAYOUT_DELAY_URI}`))).toEqual({
      id: 1,
      payload: Buffer.of(0, 0, 0),
    });
    expect(zeroPlayoutDelay(answer(`a=extmap:7/recvonly ${PLAYOUT_DELAY_URI}`))?.id).toBe(7);
  });

  it("stays off when the answer left it out or gave it an id the one-byte header cannot carry", () => {
    expect(zeroPlayoutDelay(answer("a=extmap:1 urn:ietf:params:rtp-hdrext:sdes:mid"))).toBeUndefined();
    expect(zeroPlayoutDelay(answer(`a=extmap:15 ${PLAYOUT_DELAY_URI}`))).toBeUndefined();
    expect(zeroPlayoutDelay(answer(`a=extmap:1 ${PLAYOUT_DELAY_URI}-v2`))).toBeUndefined();
  });
});

describe("abs-send-time", () => {
  it("goes by the id the answer kept", () => {
    expect(sendTimeId(answer(`a=extmap:3 ${ABS_SEND_TIME_URI}`))).toBe(3);
    expect(sendTimeId(answer(`a=extmap:1 ${PLAYOUT_DELAY_URI}`))).toBeUndefined();
  });

  it("is seconds in 6.18 fixed point, modulo 64 s", () => {
    expect(absSendTime(0)).toEqual(Buffer.of(0, 0, 0));
    expect(absSendTime(1500)).toEqual(Buffer.of(0x06, 0x00, 0x00));
    // A millisecond is 262 units; 64 s wraps to 0.
    expect(absSendTime(64_001).readUIntBE(0, 3)).toBe(262);
  });
});
