import { RTCPeerConnection } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { MIN_RTO_S, shortenRetransmissionTimeout } from "./sctp-timeout.ts";

const pcs: RTCPeerConnection[] = [];
afterEach(async () => {
  await Promise.all(pcs.splice(0).map((pc) => pc.close()));
});

/** The association's timer state, as sctp-timeout.ts reads it. */
const timers = (pc: RTCPeerConnection) => pc.sctpTransport!.sctp as unknown as { rto: number; srtt?: number };

/** Two werift peers on loopback with a data channel open between them, as agent and viewer. */
async function connectedPair() {
  const agent = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
  const viewer = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
  pcs.push(agent, viewer);
  const channel = agent.createDataChannel("screen", { ordered: true });
  agent.onIceCandidate.subscribe((c) => c && void viewer.addIceCandidate(c));
  viewer.onIceCandidate.subscribe((c) => c && void agent.addIceCandidate(c));
  const received: number[] = [];
  viewer.onDataChannel.subscribe((c) => c.onMessage.subscribe((data) => received.push(data.length)));
  await agent.setLocalDescription(await agent.createOffer());
  await viewer.setRemoteDescription(agent.localDescription!);
  await viewer.setLocalDescription(await viewer.createAnswer());
  await agent.setRemoteDescription(viewer.localDescription!);
  await new Promise<void>((resolve) =>
    agent.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
  );
  return { agent, channel, received };
}

async function until(check: () => boolean, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("the data channels' retransmission timeout", () => {
  it("starts at 1 s and follows the measured round trip down to its floor, not werift's 1 s", async () => {
    const { agent, channel, received } = await connectedPair();
    // werift's own: 3 s until a round trip is measured.
    const before = timers(agent).rto;
    expect(shortenRetransmissionTimeout(agent)).toBe(true);
    expect(timers(agent).rto).toBe(Math.min(before, 1));

    await until(() => channel.readyState === "open");
    for (let i = 0; i < 20; i++) channel.send(Buffer.alloc(2000, i));
    await until(() => received.length === 20);
    await until(() => timers(agent).srtt !== undefined);
    // Loopback's round trip is well under a millisecond: the floor is what is left.
    expect(timers(agent).rto).toBe(MIN_RTO_S);
  }, 20_000);

  it("can be shortened as soon as the offer is made, before the association sends its INIT", async () => {
    const agent = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
    pcs.push(agent);
    agent.createDataChannel("screen", { ordered: true });
    await agent.setLocalDescription(await agent.createOffer());
    expect(shortenRetransmissionTimeout(agent)).toBe(true);
    // The INIT's timer (werift's timer 1) reads this when the association starts, at DTLS.
    expect(timers(agent).rto).toBe(1);
    // Called again (peer.ts does, when the media is up), nothing is wrapped twice.
    const association = agent.sctpTransport!.sctp as unknown as { updateRto: unknown };
    const wrapped = association.updateRto;
    expect(shortenRetransmissionTimeout(agent)).toBe(true);
    expect(association.updateRto).toBe(wrapped);
  });

  it("reports false and changes nothing for a peer without an association", () => {
    const pc = new RTCPeerConnection();
    pcs.push(pc);
    expect(shortenRetransmissionTimeout(pc)).toBe(false);
  });
});
