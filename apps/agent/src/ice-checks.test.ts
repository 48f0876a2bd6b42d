import { RTCPeerConnection } from "werift";
import { afterEach, describe, expect, it } from "vitest";
import { reportIceAtOnce } from "./ice-checks.ts";

const pcs: RTCPeerConnection[] = [];
afterEach(async () => {
  await Promise.all(pcs.splice(0).map((pc) => pc.close()));
});

const peer = () => {
  const pc = new RTCPeerConnection({ iceAdditionalHostAddresses: ["127.0.0.1"] });
  pcs.push(pc);
  return pc;
};

/** The scheduler werift's connect() calls, counted; `reportIceAtOnce` wraps what is there then. */
function countScheduling(pc: RTCPeerConnection) {
  const connection = pc.iceTransports[0]!.connection as unknown as { schedulingChecks: () => boolean };
  const schedule = connection.schedulingChecks.bind(connection);
  const calls = { count: 0 };
  connection.schedulingChecks = () => {
    calls.count++;
    return schedule();
  };
  return calls;
}

/**
 * An agent-like offerer (ICE controlling, as the agent is) and a viewer, connected over loopback
 * with their candidates in the descriptions. Returns how often the offerer's scheduler had been
 * called when its ICE said "connected".
 */
async function connect(wrap: boolean) {
  const agent = peer();
  const viewer = peer();
  agent.createDataChannel("input");
  await agent.setLocalDescription(await agent.createOffer());
  const calls = countScheduling(agent);
  if (wrap) expect(reportIceAtOnce(agent)).toBe(1);
  const atConnected = new Promise<number>((resolve) =>
    agent.iceConnectionStateChange.subscribe((state) => state === "connected" && resolve(calls.count)),
  );
  const opened = new Promise<void>((resolve) =>
    viewer.onDataChannel.subscribe((channel) =>
      channel.stateChanged.subscribe((state) => state === "open" && resolve()),
    ),
  );
  await viewer.setRemoteDescription(agent.localDescription!);
  await viewer.setLocalDescription(await viewer.createAnswer());
  await agent.setRemoteDescription(viewer.localDescription!);
  const scheduled = await atConnected;
  await opened;
  return scheduled;
}

describe("reportIceAtOnce", () => {
  it("says connected as the completing check is answered, not at werift's next pacing tick", async () => {
    // werift alone: one call started the check, and "connected" waited for the call after its
    // 20 ms sleep, which found nothing left to do.
    expect(await connect(false)).toBeGreaterThanOrEqual(2);
    // Wrapped: the call that started the check is the only one before "connected"; DTLS and the
    // data channel still come up.
    expect(await connect(true)).toBe(1);
  });

  it("wraps a connection once, and leaves a connection of another shape alone", async () => {
    const pc = peer();
    pc.createDataChannel("input");
    await pc.setLocalDescription(await pc.createOffer());
    const connection = pc.iceTransports[0]!.connection as unknown as Record<string, unknown>;
    expect(reportIceAtOnce(pc)).toBe(1);
    const wrapped = connection.schedulingChecks;
    expect(reportIceAtOnce(pc)).toBe(1);
    expect(connection.schedulingChecks).toBe(wrapped);

    const other = peer();
    other.createDataChannel("input");
    await other.setLocalDescription(await other.createOffer());
    const otherConnection = other.iceTransports[0]!.connection as unknown as Record<string, unknown>;
    otherConnection.schedulingChecks = undefined;
    expect(reportIceAtOnce(other)).toBe(0);
    expect(otherConnection.schedulingChecks).toBeUndefined();
  });

  it("waits for the browser's first check when the answer comes before any candidate, then connects at once", async () => {
    const agent = peer();
    const viewer = peer();
    agent.createDataChannel("input");
    await agent.setLocalDescription(await agent.createOffer());
    const calls = countScheduling(agent);
    reportIceAtOnce(agent);
    const atConnected = new Promise<number>((resolve) =>
      agent.iceConnectionStateChange.subscribe((state) => state === "connected" && resolve(calls.count)),
    );
    // As with a browser: the answer reaches the agent before the viewer's candidates or checks
    // (the viewer starts checking only once it has set its answer, after this).
    await viewer.setRemoteDescription(agent.localDescription!);
    const answer = await viewer.createAnswer();
    await agent.setRemoteDescription(answer);
    await viewer.setLocalDescription(answer);
    // The one call that started the check on the pair the viewer's own check revealed: werift did
    // not sleep through the check list's completion (it took 2 or more calls unwrapped).
    expect(await atConnected).toBe(1);
  });

  it("waits for candidates trickled after the answer when nothing of the browser came first, then connects", async () => {
    const agent = peer();
    const viewer = peer();
    agent.createDataChannel("input");
    await agent.setLocalDescription(await agent.createOffer());
    reportIceAtOnce(agent);
    const connected = new Promise<void>((resolve) =>
      agent.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
    );
    // Neither side knows a candidate of the other's when it starts, so neither checks first and
    // the agent's check list is empty when it starts and stays so past the wait.
    await viewer.setRemoteDescription({ type: "offer", sdp: withoutCandidates(agent.localDescription!.sdp) });
    await viewer.setLocalDescription(await viewer.createAnswer());
    await agent.setRemoteDescription({
      type: "answer",
      sdp: withoutCandidates(viewer.localDescription!.sdp),
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    for (const [from, to] of [
      [agent, viewer],
      [viewer, agent],
    ] as const) {
      for (const line of from.localDescription!.sdp.match(/^a=candidate:.*$/gm) ?? [])
        await to.addIceCandidate({ candidate: line.slice(2), sdpMid: "0" });
    }
    await connected;
  });
});

/** A description as trickle ICE sends it: its candidates (and their end) come separately. */
const withoutCandidates = (sdp: string) => sdp.replace(/^a=(candidate:.*|end-of-candidates)\r\n/gm, "");
