/**
 * The start-up warm-up runs a whole connection with itself (real werift, over loopback): offer and
 * answer, ICE, DTLS, a data channel message and an SRTP packet each way they go in a session.
 */
import type { Logger } from "@rd/log";
import { describe, expect, it } from "vitest";
import { warmUpWebRtc } from "./warm-up.ts";

function recordingLog() {
  const lines: { msg: string; fields: Record<string, unknown> }[] = [];
  const log: Logger = {
    debug: (fields, msg) => lines.push({ msg, fields }),
    info: (fields, msg) => lines.push({ msg, fields }),
    warn: (fields, msg) => lines.push({ msg, fields }),
    error: (fields, msg) => lines.push({ msg, fields }),
    child: () => log,
  };
  return { log, lines };
}

describe("warmUpWebRtc", () => {
  it("connects with itself: the message and the video packet both arrive", async () => {
    const { log, lines } = recordingLog();
    await warmUpWebRtc(log);
    expect(lines.map((l) => l.msg)).toEqual(["WebRTC warmed up"]);
    expect(lines[0]!.fields.cpuMs).toBeGreaterThan(0);
  });
});
