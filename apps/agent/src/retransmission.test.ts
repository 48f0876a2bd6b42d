import { describe, expect, it, vi } from "vitest";
import { GenericNack, RTCRtpSender, RtcpTransportLayerFeedback, RtpHeader, RtpPacket } from "werift";
import { SentPackets, takeOverRetransmission } from "./retransmission.ts";

const packet = (sequenceNumber: number) =>
  new RtpPacket(new RtpHeader({ sequenceNumber, payloadType: 96 }), Buffer.alloc(100));

describe("SentPackets", () => {
  it("finds the packets a NACK names while they are kept, in the order asked", () => {
    const sent = new SentPackets();
    for (let seq = 65_500; seq < 65_536; seq++) sent.remember(packet(seq));
    for (let seq = 0; seq < 20; seq++) sent.remember(packet(seq));
    // Across the sequence numbers' wrap; one never sent.
    expect(sent.find([3, 65_530, 40]).map((p) => p.header.sequenceNumber)).toEqual([3, 65_530]);
  });

  it("forgets a packet once later ones took its place", () => {
    const sent = new SentPackets();
    for (let seq = 0; seq < 1000; seq++) sent.remember(packet(seq));
    expect(sent.find([10, 999]).map((p) => p.header.sequenceNumber)).toEqual([999]);
  });
});

describe("takeOverRetransmission", () => {
  it("leaves a NACK to the agent: werift sends nothing itself and still reports it", () => {
    const sender = new RTCRtpSender("video");
    const sendRtp = vi.fn(async () => 0);
    (sender as unknown as { dtlsTransport: unknown }).dtlsTransport = { sendRtp };
    takeOverRetransmission(sender);
    // What werift does with each packet it sends: keep it under its sequence number.
    const cache = (sender as unknown as { rtpCache: RtpPacket[] }).rtpCache;
    cache[7] = packet(7);
    const reported: number[][] = [];
    sender.onGenericNack.subscribe((nack) => reported.push(nack.lost));
    sender.handleRtcpPacket(
      new RtcpTransportLayerFeedback({
        feedback: new GenericNack({ senderSsrc: 1, mediaSourceSsrc: sender.ssrc, lost: [7] }),
      }),
    );
    expect(sendRtp).not.toHaveBeenCalled();
    expect(reported).toEqual([[7]]);
  });
});
