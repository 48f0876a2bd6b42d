/**
 * One WebRTC connection made with itself at start-up, before the agent says it is online, so that
 * the first viewer does not pay for compiling the WebRTC stack. Node compiles a function the first
 * time it runs; werift's offer, ICE, DTLS, SCTP and SRTP are a lot of functions. Measured here
 * (two werift peers in one process, over loopback): 242 ms of CPU the first time, 46 ms after.
 * In bench:media the first two connections to a freshly started agent took 400-640 ms to their
 * first frame against ~250 for the rest: the offer 106 ms after the welcome instead of ~10, DTLS
 * 113 ms instead of ~35.
 *
 * It costs that CPU once, never while the agent waits, and gives up quietly: a warm-up that fails or
 * takes too long (a machine with no loopback interface) only means the first viewer waits a little.
 */
import type { Logger } from "@rd/log";
import { DATA_CHANNELS } from "@rd/protocol";
import { MediaStreamTrack, type RTCIceCandidate, RTCPeerConnection, RtpHeader, RtpPacket } from "werift";
import { codecsByPreference } from "./capture/video-codec.ts";
import { reportIceAtOnce } from "./ice-checks.ts";
import { offeredVideoExtensions } from "./rtp-extensions.ts";
import { videoCodecParameters } from "./video-negotiation.ts";

/** The longest the agent's start waits for it. */
const WARM_UP_TIMEOUT_MS = 1500;

export async function warmUpWebRtc(log: Logger): Promise<void> {
  const startedAt = performance.now();
  const cpuBefore = process.cpuUsage();
  const config = {
    iceAdditionalHostAddresses: ["127.0.0.1"],
    bundlePolicy: "max-bundle" as const,
    codecs: { video: videoCodecParameters(codecsByPreference("h264")) },
    headerExtensions: { video: offeredVideoExtensions() },
  };
  const agent = new RTCPeerConnection(config);
  const viewer = new RTCPeerConnection(config);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      connect(agent, viewer),
      new Promise((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`not done in ${WARM_UP_TIMEOUT_MS} ms`)),
          WARM_UP_TIMEOUT_MS,
        );
      }),
    ]);
    const cpu = process.cpuUsage(cpuBefore);
    log.debug(
      {
        ms: Math.round(performance.now() - startedAt),
        cpuMs: Math.round((cpu.user + cpu.system) / 1000),
      },
      "WebRTC warmed up",
    );
  } catch (error) {
    log.debug({ err: error }, "WebRTC warm-up skipped; the first viewer may wait a little longer");
  } finally {
    clearTimeout(timer);
    await Promise.allSettled([agent.close(), viewer.close()]);
  }
}

/** What a session does: offer with a video track and the data channels, ICE, DTLS, a message, a packet. */
async function connect(agent: RTCPeerConnection, viewer: RTCPeerConnection): Promise<void> {
  const track = new MediaStreamTrack({ kind: "video" });
  agent.addTransceiver(track, { direction: "sendonly" });
  const channels = Object.values(DATA_CHANNELS).map((label) =>
    agent.createDataChannel(label, { ordered: true }),
  );
  // Each side's candidates reach the other once it has the description they belong to (as the
  // worker's signaling orders them): werift given one earlier opens sockets it never closes.
  const agentCandidates = trickle(agent, viewer);
  const viewerCandidates = trickle(viewer, agent);
  const messageArrived = new Promise<void>((resolve) =>
    viewer.onDataChannel.subscribe((channel) => channel.onMessage.subscribe(() => resolve())),
  );
  const packetArrived = new Promise<void>((resolve) =>
    viewer.onTrack.subscribe((received) => received.onReceiveRtp.subscribe(() => resolve())),
  );
  const connected = new Promise<void>((resolve) =>
    agent.connectionStateChange.subscribe((state) => state === "connected" && resolve()),
  );

  await agent.setLocalDescription(await agent.createOffer());
  reportIceAtOnce(agent);
  await viewer.setRemoteDescription(agent.localDescription!);
  agentCandidates.open();
  await viewer.setLocalDescription(await viewer.createAnswer());
  await agent.setRemoteDescription(viewer.localDescription!);
  viewerCandidates.open();
  await connected;
  const input = channels[0]!;
  if (input.readyState !== "open") {
    await new Promise<void>((resolve) =>
      input.stateChanged.subscribe((state) => state === "open" && resolve()),
    );
  }
  input.send("warm-up");
  const payloadType = agent.getTransceivers()[0]!.sender.codec?.payloadType ?? 96;
  track.writeRtp(
    new RtpPacket(
      new RtpHeader({ payloadType, sequenceNumber: 1, timestamp: 0, marker: true }),
      Buffer.alloc(100),
    ),
  );
  await Promise.all([messageArrived, packetArrived]);
}

/** Hands `from`'s candidates to `to`, holding them until `open()`. */
function trickle(from: RTCPeerConnection, to: RTCPeerConnection) {
  let held: RTCIceCandidate[] | undefined = [];
  from.onIceCandidate.subscribe((candidate) => {
    if (!candidate) return;
    if (held) held.push(candidate);
    else void to.addIceCandidate(candidate);
  });
  return {
    open() {
      for (const candidate of held ?? []) void to.addIceCandidate(candidate);
      held = undefined;
    },
  };
}
