/**
 * The agent's peer against real WebRTC answerers (werift viewers, and the recorder's own peer): the
 * offer lists both codecs, the configured one first, and each answerer is fed the codec its answer
 * chose from the display's encoder of that codec. The encoders are the agent's real ones, on a
 * private Xvfb.
 */
import dgram from "node:dgram";
import { createLogger } from "@rd/log";
import {
  RTCRtpHeaderExtensionParameters,
  RTCPeerConnection as WeriftPeerConnection,
  SessionDescription,
  type RtpPacket,
} from "werift";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { RecorderPeer } from "../../../packages/recording/src/recorder/recorder-peer.ts";
import type { VideoCodec } from "./capture/video-codec.ts";
import type { ScreenEncoderEvents } from "./capture/screen-encoder.ts";
import { VideoSources } from "./capture/video-sources.ts";
import { AgentPeer, type AgentPeerEvents } from "./peer.ts";
import { ABS_SEND_TIME_URI, PLAYOUT_DELAY_URI } from "./rtp-extensions.ts";
import { startDisplay, type TestDisplay } from "./testing/display.ts";
import { BROWSER_CODECS } from "./testing/browser-codecs.ts";

const log = createLogger("silent", { name: "agent", module: "peer-test" });

let display: TestDisplay;
const toClose: { close(): unknown }[] = [];
beforeAll(async () => {
  display = await startDisplay({ width: 320, height: 240 });
});
afterEach(async () => {
  for (const c of toClose.splice(0).reverse()) await c.close();
});
afterAll(async () => {
  await display?.close();
});

function sources(preferred: VideoCodec) {
  const video = new VideoSources({
    target: { platform: process.platform, display: display.display },
    codec: preferred,
    fps: 10,
    maxKbps: 500,
    log,
  });
  toClose.push({ close: () => video.stop() });
  return video;
}

/** An AgentPeer whose events are recorded: the offer, failures, connections. */
function agentPeer(video: VideoSources) {
  const offers: string[] = [];
  const failures: string[] = [];
  const gone: string[] = [];
  let connected = 0;
  const handlers: Partial<AgentPeerEvents> = {};
  const peer = new AgentPeer({
    iceServers: [],
    video,
    log,
    events: {
      onOffer: (sdp) => {
        offers.push(sdp);
        handlers.onOffer?.(sdp);
      },
      onCandidate: (candidate) => handlers.onCandidate?.(candidate),
      onInput: () => {},
      onControl: () => {},
      onConnected: () => connected++,
      onFailed: (reason) => failures.push(reason),
      onGone: (reason) => gone.push(reason),
    },
  });
  toClose.push(peer);
  return { peer, offers, failures, gone, handlers, connected: () => connected };
}

/** The video codecs an SDP lists, in its order, with their payload types and fmtp. */
function videoCodecs(sdp: string) {
  const video = SessionDescription.parse(sdp).media.find((m) => m.kind === "video")!;
  return video.rtp.codecs;
}

/**
 * A werift viewer that decodes `codecs` (in its order of preference) answering the agent, with
 * the signaling relay collapsed: each side applies what the other sends, in order. `extensions`: the
 * RTP header extensions it knows (Chromium knows playout-delay and abs-send-time).
 */
async function watch(
  preferred: VideoCodec,
  codecs: (VideoCodec | "vp9")[],
  extensions: string[] = [],
  video = sources(preferred),
) {
  const agent = agentPeer(video);
  const viewer = new WeriftPeerConnection({
    iceServers: [],
    iceAdditionalHostAddresses: ["127.0.0.1"],
    codecs: { video: codecs.map((codec) => BROWSER_CODECS[codec]) },
    headerExtensions: {
      video: extensions.map((uri, i) => new RTCRtpHeaderExtensionParameters({ id: i + 1, uri })),
    },
  });
  toClose.push(viewer);
  const packets: RtpPacket[] = [];
  viewer.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => packets.push(rtp)));

  let viewerWork: Promise<unknown> = Promise.resolve();
  let agentWork: Promise<unknown> = Promise.resolve();
  agent.handlers.onOffer = (sdp) => {
    viewerWork = viewerWork.then(async () => {
      await viewer.setRemoteDescription({ type: "offer", sdp });
      await viewer.setLocalDescription(await viewer.createAnswer());
      const answer = viewer.localDescription!.sdp;
      agentWork = agentWork.then(() => agent.peer.acceptAnswer(answer));
    });
  };
  agent.handlers.onCandidate = (candidate) => {
    if (candidate) viewerWork = viewerWork.then(() => viewer.addIceCandidate(candidate));
  };
  viewer.onIceCandidate.subscribe((candidate) => {
    if (candidate) agentWork = agentWork.then(() => agent.peer.addCandidate(candidate.toJSON()));
  });
  await agent.peer.start();
  await vi.waitFor(() => expect(agent.offers).toHaveLength(1));
  await vi.waitFor(async () => {
    await viewerWork;
    await agentWork;
    expect(viewer.signalingState).toBe("stable");
  });
  return { ...agent, video, viewer, packets, answer: viewer.localDescription!.sdp };
}

describe("the agent's offer", () => {
  it.each<[VideoCodec, string[]]>([
    ["h264", ["video/H264", "video/VP8"]],
    ["vp8", ["video/VP8", "video/H264"]],
  ])("lists both codecs, the configured one (%s) first, and starts no encoder", async (preferred, order) => {
    const video = sources(preferred);
    const { peer, offers } = agentPeer(video);
    await peer.start();
    const codecs = videoCodecs(offers[0]!);
    expect(codecs.map((c) => c.mimeType)).toEqual(order);
    expect(new Set(codecs.map((c) => c.payloadType)).size).toBe(2);
    for (const codec of codecs) {
      expect(codec.rtcpFeedback.map((f) => [f.type, f.parameter ?? ""])).toEqual([
        ["nack", ""],
        ["nack", "pli"],
        ["ccm", "fir"],
        ["goog-remb", ""],
      ]);
    }
    const h264 = codecs.find((c) => c.mimeType === "video/H264")!;
    expect(h264.parameters).toBe("packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1");
    const extensions = SessionDescription.parse(offers[0]!).media.find((m) => m.kind === "video")!.rtp
      .headerExtensions;
    expect(extensions.map((e) => e.uri)).toEqual([PLAYOUT_DELAY_URI, ABS_SEND_TIME_URI]);
    expect(peer.source).toBeUndefined();
    expect(video.all()).toEqual([]);
  });
});

describe("the codec a viewer is fed", () => {
  it.each<[string, VideoCodec, VideoCodec[], VideoCodec]>([
    ["a viewer without H.264 gets VP8 although H.264 is preferred", "h264", ["vp8"], "vp8"],
    ["a viewer that decodes both gets the agent's preference", "h264", ["h264", "vp8"], "h264"],
    ["a viewer without VP8 gets H.264 although VP8 is preferred", "vp8", ["h264"], "h264"],
    ["the viewer's answer decides when it lists both its own way", "h264", ["vp8", "h264"], "vp8"],
  ])(
    "%s",
    async (_name, preferred, viewerCodecs, expected) => {
      const { peer, video, packets, answer, failures, connected } = await watch(preferred, viewerCodecs);
      expect(videoCodecs(answer)[0]!.mimeType.toLowerCase()).toBe(`video/${expected}`);
      expect(peer.source?.codec).toBe(expected);
      // Only the negotiated codec's encoder exists, and the viewer receives its frames.
      expect(video.all().map((source) => source.codec)).toEqual([expected]);
      await vi.waitFor(() => expect(connected()).toBe(1), { timeout: 15_000 });
      await vi.waitFor(() => expect(packets.length).toBeGreaterThanOrEqual(3), { timeout: 15_000 });
      const payloadType = videoCodecs(answer)[0]!.payloadType;
      expect(new Set(packets.map((p) => p.header.payloadType))).toEqual(new Set([payloadType]));
      expect(failures).toEqual([]);
    },
    30_000,
  );

  it("fails the peer, saying why, when the viewer's answer takes neither codec", async () => {
    const { peer, video, failures } = await watch("h264", ["vp9"]);
    expect(failures).toEqual(["the viewer cannot decode H.264 or VP8 video (its answer: video refused)"]);
    expect(peer.source).toBeUndefined();
    expect(video.all()).toEqual([]);
  });
});

describe("the playout delay", () => {
  /** The playout-delay extension's payload on each packet that carries it. */
  const delays = (packets: RtpPacket[], answer: string) => {
    const id = SessionDescription.parse(answer)
      .media.find((m) => m.kind === "video")!
      .rtp.headerExtensions.find((e) => e.uri === PLAYOUT_DELAY_URI)?.id;
    return packets.map((p) => p.header.extensions.find((e) => e.id === id)?.payload.toString("hex"));
  };

  it("is 0-0 on the first packet of every frame for a viewer whose answer kept it", async () => {
    const { packets, answer } = await watch("h264", ["h264"], [PLAYOUT_DELAY_URI]);
    await vi.waitFor(() => expect(packets.filter((p) => p.header.marker).length).toBeGreaterThanOrEqual(3), {
      timeout: 15_000,
    });
    // A frame starts with the first packet and after each marker: exactly those carry it.
    const frameStarts = packets.map((_, i) =>
      i === 0 || packets[i - 1]!.header.marker ? "000000" : undefined,
    );
    expect(delays(packets, answer)).toEqual(frameStarts);
  }, 30_000);

  it("is left out for a viewer whose answer did not keep it", async () => {
    const { packets } = await watch("h264", ["h264"]);
    await vi.waitFor(() => expect(packets.length).toBeGreaterThanOrEqual(3), { timeout: 15_000 });
    expect(packets.every((p) => p.header.extensions.length === 0)).toBe(true);
  }, 30_000);
});

describe("the send time", () => {
  it("is on every packet for a viewer whose answer kept abs-send-time, and goes forward", async () => {
    const startedAt = performance.now();
    const { packets, answer } = await watch("h264", ["h264"], [ABS_SEND_TIME_URI]);
    await vi.waitFor(() => expect(packets.length).toBeGreaterThanOrEqual(20), { timeout: 15_000 });
    const id = SessionDescription.parse(answer)
      .media.find((m) => m.kind === "video")!
      .rtp.headerExtensions.find((e) => e.uri === ABS_SEND_TIME_URI)!.id;
    // 6.18 fixed-point seconds in 24 bits, which wrap every 64 s: each step forward, modulo that,
    // and in all about the time the packets took to arrive (werift's own stamp has whole seconds).
    const times = packets.map((p) => p.header.extensions.find((e) => e.id === id)!.payload.readUIntBE(0, 3));
    const steps = times.slice(1).map((t, i) => (t - times[i]! + 0x1000000) % 0x1000000);
    expect(steps.every((step) => step < 0x800000)).toBe(true);
    const seconds = steps.reduce((sum, step) => sum + step, 0) / 2 ** 18;
    expect(seconds).toBeGreaterThan(0);
    expect(seconds).toBeLessThanOrEqual((performance.now() - startedAt) / 1000);
  }, 30_000);
});

/** The recorder's peer answering `agent`'s offer, wired as the recorder service wires it. */
function recorderAnswering(agent: ReturnType<typeof agentPeer>) {
  const frames: string[] = [];
  const gone: string[] = [];
  let agentWork: Promise<unknown> = Promise.resolve();
  let recorderWork: Promise<unknown> = Promise.resolve();
  const recorder = new RecorderPeer({
    iceServers: [],
    log,
    clock: () => performance.now(),
    events: {
      onCandidate: (candidate) => void agentWork.then(() => agent.peer.addCandidate(candidate)),
      onFrame: (_frame, codec) => frames.push(codec),
      onControl: () => {},
      onGone: (reason) => gone.push(reason),
    },
  });
  agent.handlers.onOffer = (sdp) => {
    recorderWork = recorderWork.then(async () => {
      const answer = await recorder.acceptOffer(sdp);
      agentWork = agentWork.then(() => agent.peer.acceptAnswer(answer));
    });
  };
  agent.handlers.onCandidate = (candidate) => {
    recorderWork = recorderWork.then(() => recorder.addCandidate(candidate));
  };
  return { recorder, frames, gone };
}

describe("the recorder as the answerer", () => {
  it("takes H.264, the codec it stores, even from an agent that prefers VP8", async () => {
    const video = sources("vp8");
    const agent = agentPeer(video);
    const { recorder, frames, gone } = recorderAnswering(agent);
    toClose.push(recorder);
    await agent.peer.start();
    await vi.waitFor(() => expect(frames.length).toBeGreaterThan(0), { timeout: 15_000 });
    expect(new Set(frames)).toEqual(new Set(["h264"]));
    expect(agent.peer.source?.codec).toBe("h264");
    expect(video.all().map((source) => source.codec)).toEqual(["h264"]);
    expect(gone).toEqual([]);
  }, 30_000);
});

describe("the first video frames", () => {
  it("go as soon as DTLS is up, without waiting for the data channels' SCTP handshake", async () => {
    // The viewer drops every SCTP packet, so werift never calls the agent's peer "connected"; SRTP
    // is up all the same, and the picture must not wait for the data channels.
    const video = sources("h264");
    const agent = agentPeer(video);
    const viewer = new WeriftPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ["127.0.0.1"],
      codecs: { video: [BROWSER_CODECS.h264] },
    });
    toClose.push(viewer);
    const dropSctp = () => {
      for (const transport of viewer.dtlsTransports)
        Object.defineProperty(transport, "dataReceiver", { get: () => () => {}, set: () => {} });
    };
    const packets: RtpPacket[] = [];
    viewer.onTrack.subscribe((track) => track.onReceiveRtp.subscribe((rtp) => packets.push(rtp)));
    let work: Promise<unknown> = Promise.resolve();
    agent.handlers.onOffer = (sdp) => {
      work = work.then(async () => {
        await viewer.setRemoteDescription({ type: "offer", sdp });
        await viewer.setLocalDescription(await viewer.createAnswer());
        dropSctp();
        await agent.peer.acceptAnswer(viewer.localDescription!.sdp);
      });
    };
    agent.handlers.onCandidate = (candidate) => {
      if (candidate) work = work.then(() => viewer.addIceCandidate(candidate));
    };
    viewer.onIceCandidate.subscribe((candidate) => {
      if (candidate) work = work.then(() => agent.peer.addCandidate(candidate.toJSON()));
    });
    await agent.peer.start();
    await vi.waitFor(() => expect(packets.some((p) => p.header.marker)).toBe(true), { timeout: 15_000 });
    // Still not "connected" by werift's count: the frames came on DTLS alone.
    expect(agent.connected()).toBe(0);
  }, 30_000);
});

describe("a viewer whose media path is up before its encoder's first frame", () => {
  it("gets that frame, a keyframe, and no second encoder for one", async () => {
    // Encoders that produce only when told: the path comes up first, as it did for 5 of 8
    // sessions on bench:media's 1080p motion desktop.
    const encoders: ScreenEncoderEvents[] = [];
    const video = new VideoSources({
      target: { platform: process.platform, display: display.display },
      codec: "h264",
      fps: 10,
      maxKbps: 500,
      log,
      createEncoder: (_kbps, events) => {
        encoders.push(events);
        return { stop() {} };
      },
    });
    toClose.push({ close: () => video.stop() });
    const { peer, packets, connected } = await watch("h264", ["h264"], [], video);
    await vi.waitFor(() => expect(connected()).toBe(1), { timeout: 15_000 });
    expect(encoders).toHaveLength(1);

    // One IDR slice, as AVC length-prefixed NAL units.
    encoders[0]!.onFrame({ data: Buffer.from([0, 0, 0, 3, 0x65, 0x88, 0x84]), keyframe: true });
    await vi.waitFor(() => expect(packets.some((p) => p.header.marker)).toBe(true));
    // Past the source's keyframe interval (1 s): a request would have started another encoder.
    await new Promise((r) => setTimeout(r, 1500));
    expect(encoders).toHaveLength(1);
    expect(peer.source?.codec).toBe("h264");
  }, 30_000);
});

describe("the data channels' association", () => {
  it("has its INIT timed at 1 s, not werift's 3, by the time the offer goes out", async () => {
    // Through a TURN relay the first INIT was lost at every start, and werift resent it after 3 s.
    const agent = agentPeer(sources("h264"));
    const association = () =>
      (agent.peer as unknown as { pc: WeriftPeerConnection }).pc.sctpTransport!.sctp as unknown as {
        rto: number;
      };
    let rtoAtOffer: number | undefined;
    agent.handlers.onOffer = () => (rtoAtOffer = association().rto);
    await agent.peer.start();
    await vi.waitFor(() => expect(rtoAtOffer).toBe(1), { timeout: 10_000 });
  }, 20_000);
});

describe("a connection, once closed", () => {
  /** The UDP sockets this process holds open. */
  const udpSockets = () =>
    (process as unknown as { _getActiveHandles(): object[] })
      ._getActiveHandles()
      .filter((handle) => handle instanceof dgram.Socket).length;

  /** A werift viewer watching, with the data channels' association up (the control channel there). */
  async function withChannels() {
    const watching = await watch("h264", ["h264"]);
    const channels: string[] = [];
    watching.viewer.onDataChannel.subscribe((channel) => channels.push(channel.label));
    await vi.waitFor(() => expect(watching.connected()).toBe(1), { timeout: 15_000 });
    await vi.waitFor(() => expect(channels).toContain("control"), { timeout: 15_000 });
    return watching;
  }

  it("by the viewer, is reported as the viewer gone (werift's ICE would call it connected)", async () => {
    const { viewer, gone, failures } = await withChannels();
    expect(gone).toEqual([]);
    await viewer.close();
    await vi.waitFor(() => expect(gone).toEqual(["the viewer closed its connection"]));
    expect(failures).toEqual([]);
  }, 30_000);

  it("by the agent, is no news to the agent", async () => {
    const { peer, gone } = await withChannels();
    await peer.close();
    await new Promise((r) => setTimeout(r, 500));
    expect(gone).toEqual([]);
  }, 30_000);

  it("leaves none of the agent's sockets open", async () => {
    const before = udpSockets();
    const { peer, viewer, packets } = await watch("h264", ["h264"]);
    await vi.waitFor(() => expect(packets.length).toBeGreaterThan(0), { timeout: 15_000 });
    await viewer.close();
    const withViewerClosed = udpSockets();
    await peer.close();
    // With werift's default bundle policy the offer had a transport per m-line; a viewer that
    // bundles (every browser) left the data channels' one unused, and nothing closed it: three
    // sockets (IPv4, IPv6, loopback) leaked with every viewer the agent ever had.
    await vi.waitFor(() => expect(udpSockets()).toBe(before));
    expect(withViewerClosed).toBeGreaterThan(before);
  }, 30_000);

  it("leaves none of the recorder's sockets open either (a werift answerer, werift's default bundling)", async () => {
    const before = udpSockets();
    const video = sources("h264");
    const agent = agentPeer(video);
    const { recorder, frames } = recorderAnswering(agent);
    await agent.peer.start();
    await vi.waitFor(() => expect(frames.length).toBeGreaterThan(0), { timeout: 15_000 });
    const connected = udpSockets();
    await recorder.close();
    await agent.peer.close();
    video.stop();
    await vi.waitFor(() => expect(udpSockets()).toBe(before));
    expect(connected).toBeGreaterThan(before);
  }, 30_000);
});
