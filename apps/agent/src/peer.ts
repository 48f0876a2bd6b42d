/**
 * The agent's side of one WebRTC session (werift): a sendonly video track (VP8 or H.264, whichever
 * the source encodes) fed from the display's shared VideoSource, and the `input` and `control` data
 * channels. The agent offers; candidates trickle both ways through the signaling worker.
 * Picture-loss reports ask the source for a keyframe, receiver bitrate estimates (REMB) steer the
 * encoder, and a broken ICE path is restarted before the session is given up.
 */
import type { Logger } from "@rd/log";
import { DATA_CHANNELS } from "@rd/protocol";
import {
  MediaStreamTrack,
  RTCIceCandidate,
  RTCPeerConnection,
  RTCRtpCodecParameters,
  type RTCIceServer,
  type RTCRtpTransceiver,
} from "werift";
import { RtpPacketizer } from "./capture/rtp-packetizer.ts";
import { LinkEstimate } from "./link-estimate.ts";
import { isMdnsCandidate, withoutMdnsCandidates } from "./mdns-candidates.ts";
import { RTP_ENCODING_NAME, type VideoCodec } from "./capture/video-codec.ts";
import type { VideoSource, VideoViewer } from "./capture/video-source.ts";

export type IceCandidateJson = {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
};

export interface AgentPeerEvents {
  /** An offer or a candidate for the viewer; `null` ends the candidates. */
  onOffer(sdp: string): void;
  onCandidate(candidate: IceCandidateJson | null): void;
  onInput(frame: string | Buffer): void;
  onControl(frame: string | Buffer): void;
  /** Media flows (first time and after every recovery). */
  onConnected(): void;
  /** The connection could not be recovered; the session should end. */
  onFailed(reason: string): void;
}

export interface AgentPeerOptions {
  iceServers: RTCIceServer[];
  video: VideoSource;
  log: Logger;
  events: AgentPeerEvents;
}

/**
 * How long ICE may stay "disconnected" before a restart is tried, and how many restarts. Generous:
 * "disconnected" usually heals by itself (a busy machine answering consent checks late), and a
 * restart costs more than waiting.
 */
const DISCONNECTED_GRACE_MS = 5000;
const MAX_ICE_RESTARTS = 3;
/**
 * How long after the viewer's answer the media path (ICE and DTLS) may take to come up before ICE
 * is restarted. It takes well under a second on a LAN and a few on a loaded machine; an attempt
 * whose checks stall (seen once in CI: no DTLS 15 s after the answer) reaches ICE "failed" only
 * after ~30 s, so without this a viewer would stare at "Setting up the connection" for that long.
 */
const ESTABLISH_TIMEOUT_MS = 8000;
/** How often the receiver's bandwidth estimate is read; the source rate-limits the restarts. */
const BITRATE_POLL_MS = 1000;
const CLOSE_TIMEOUT_MS = 2000;

/**
 * The one video codec the agent offers: the source encodes a single codec for every viewer. The
 * feedback is what it acts on: NACK (werift retransmits), PLI and FIR (a fresh keyframe) and REMB
 * (the bitrate).
 */
function videoCodecParameters(codec: VideoCodec): RTCRtpCodecParameters {
  return new RTCRtpCodecParameters({
    mimeType: `video/${RTP_ENCODING_NAME[codec]}`,
    clockRate: 90_000,
    rtcpFeedback: [
      { type: "nack" },
      { type: "nack", parameter: "pli" },
      { type: "ccm", parameter: "fir" },
      { type: "goog-remb" },
    ],
    // H.264 (RFC 6184 §8.1): FU-A needs mode 1, and 42e01f is Constrained Baseline, which x264
    // writes for -profile:v baseline. x264 picks the level for the frame size (4.0 for 1080p) and
    // browsers decode it although they announce 3.1 (1f) themselves; level-asymmetry-allowed says
    // the two directions may differ.
    ...(codec === "h264"
      ? { parameters: "packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1" }
      : {}),
  });
}

export class AgentPeer {
  readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: "video" });
  private readonly transceiver: RTCRtpTransceiver;
  private readonly control;
  private readonly packetizer: RtpPacketizer;
  private readonly viewer: VideoViewer;
  private unsubscribeVideo?: () => void;
  private disconnectedTimer?: ReturnType<typeof setTimeout>;
  private establishTimer?: ReturnType<typeof setTimeout>;
  private bitrateTimer?: ReturnType<typeof setInterval>;
  private restarts = 0;
  /** The technician's quality choice caps the bitrate; undefined = follow the estimate. */
  private qualityCapKbps?: number;
  private readonly link = new LinkEstimate();
  private bytesSinceEstimate = 0;
  private closed = false;
  private readonly options: AgentPeerOptions;

  constructor(options: AgentPeerOptions) {
    this.options = options;
    const { iceServers, events, log, video } = options;
    this.packetizer = new RtpPacketizer(video.codec);
    this.pc = new RTCPeerConnection({
      iceServers,
      // werift leaves out loopback candidates unless asked; a viewer on the same machine needs them.
      iceAdditionalHostAddresses: ["127.0.0.1"],
      codecs: { video: [videoCodecParameters(video.codec)] },
    });
    this.transceiver = this.pc.addTransceiver(this.track, { direction: "sendonly" });
    const input = this.pc.createDataChannel(DATA_CHANNELS.input, { ordered: true });
    this.control = this.pc.createDataChannel(DATA_CHANNELS.control, { ordered: true });
    input.onMessage.subscribe((data) => events.onInput(data));
    this.control.onMessage.subscribe((data) => events.onControl(data));

    this.viewer = {
      onFrame: (frame) => {
        this.bytesSinceEstimate += frame.data.length;
        const payloadType = this.transceiver.sender.codec?.payloadType;
        for (const packet of this.packetizer.packetize(frame.data)) {
          if (payloadType !== undefined) packet.header.payloadType = payloadType;
          this.track.writeRtp(packet);
        }
      },
      onScreen: (size) => this.sendControl({ type: "control/screen", ...size }),
    };
    this.transceiver.sender.onPictureLossIndication.subscribe(() => options.video.requestKeyframe());

    this.pc.onIceCandidate.subscribe((candidate) => {
      if (this.closed) return;
      events.onCandidate(candidate ? (candidate.toJSON() as IceCandidateJson) : null);
    });
    this.pc.iceConnectionStateChange.subscribe((state) => this.iceStateChanged(state));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") this.mediaReady();
    });
    this.control.stateChanged.subscribe((state) => {
      if (state === "open" && options.video.screenSize)
        this.sendControl({ type: "control/screen", ...options.video.screenSize });
    });
    log.debug({}, "peer created");
  }

  /** Creates and sends the offer; call once, after the session is accepted. */
  async start(): Promise<void> {
    await this.sendOffer(false);
  }

  async acceptAnswer(sdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: "answer", sdp: withoutMdnsCandidates(sdp) });
    // Until the media path first comes up, an attempt that stalls is restarted (see the constant).
    if (!this.unsubscribeVideo && !this.closed) {
      clearTimeout(this.establishTimer);
      this.establishTimer = setTimeout(
        () => void this.restartIce("not connected in time"),
        ESTABLISH_TIMEOUT_MS,
      );
    }
  }

  async addCandidate(candidate: IceCandidateJson | null): Promise<void> {
    if (!candidate || !candidate.candidate) return;
    // Not needed, and each would stall ICE for up to 10 s (mdns-candidates.ts).
    if (isMdnsCandidate(candidate.candidate)) return;
    await this.pc.addIceCandidate(
      new RTCIceCandidate({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? undefined,
        sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
        usernameFragment: candidate.usernameFragment ?? undefined,
      }),
    );
  }

  /** Sends on the control channel if it is open; control messages are best-effort by design. */
  sendControl(message: object): void {
    if (this.control.readyState !== "open") return;
    try {
      this.control.send(JSON.stringify(message));
    } catch (error) {
      this.options.log.debug({ err: error }, "control message not sent");
    }
  }

  setQualityCap(kbps: number | undefined): void {
    this.qualityCapKbps = kbps;
    this.applyBitrate();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.disconnectedTimer);
    clearTimeout(this.establishTimer);
    clearInterval(this.bitrateTimer);
    this.unsubscribeVideo?.();
    // werift's close can wait on a transport that is already gone; never let it hold up the end.
    await Promise.race([
      this.pc.close().catch(() => {}),
      new Promise((r) => setTimeout(r, CLOSE_TIMEOUT_MS)),
    ]);
  }

  private async sendOffer(iceRestart: boolean) {
    const offer = await this.pc.createOffer(iceRestart ? { iceRestart: true } : undefined);
    await this.pc.setLocalDescription(offer);
    if (this.closed) return;
    this.options.events.onOffer(this.pc.localDescription!.sdp);
  }

  private iceStateChanged(state: string) {
    const { log, events, video } = this.options;
    log.debug({ state }, "ice state");
    if (this.closed) return;
    if (state === "connected" || state === "completed") {
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      this.applyBitrate();
      // Back after a restart or a blip: frames sent meanwhile were lost, so start from a keyframe.
      // (The first connection waits for DTLS as well; see mediaReady.)
      if (this.unsubscribeVideo) {
        video.requestKeyframe();
        events.onConnected();
      }
    } else if (state === "disconnected") {
      this.ignoreEstimate();
      this.disconnectedTimer ??= setTimeout(
        () => void this.restartIce("disconnected"),
        DISCONNECTED_GRACE_MS,
      );
    } else if (state === "failed") {
      this.ignoreEstimate();
      void this.restartIce("failed");
    }
  }

  /**
   * DTLS is up as well as ICE: only now can SRTP carry frames. Subscribing at ICE "connected"
   * (earlier) sent the first keyframe into the void, and with a static screen the viewer then
   * waited up to ten seconds for the next one.
   */
  private mediaReady() {
    clearTimeout(this.establishTimer);
    if (this.closed || this.unsubscribeVideo) return;
    this.unsubscribeVideo = this.options.video.subscribe(this.viewer);
    this.bitrateTimer = setInterval(() => this.readEstimate(), BITRATE_POLL_MS);
    this.options.events.onConnected();
  }

  private async restartIce(why: string) {
    this.disconnectedTimer = undefined;
    if (this.closed) return;
    if (this.restarts >= MAX_ICE_RESTARTS) {
      return this.options.events.onFailed(`the connection to the viewer was lost (${why})`);
    }
    this.restarts++;
    this.options.log.info({ why, attempt: this.restarts }, "restarting ICE");
    try {
      await this.sendOffer(true);
    } catch (error) {
      this.options.events.onFailed(`ICE restart failed: ${(error as Error).message}`);
    }
  }

  private readEstimate() {
    const estimate = Number(this.transceiver.sender.receiverEstimatedMaxBitrate ?? 0n);
    const sentKbps = (this.bytesSinceEstimate * 8) / BITRATE_POLL_MS;
    this.bytesSinceEstimate = 0;
    this.link.read(estimate, sentKbps, this.options.video.targetKbps);
    this.applyBitrate();
  }

  /**
   * A viewer whose path is down (a closed page, a lost network) says nothing about what the others
   * can take: its last estimate must not hold the shared encoder down meanwhile.
   */
  private ignoreEstimate() {
    if (this.viewer.kbps === undefined) return;
    this.viewer.kbps = undefined;
    this.options.video.bitrateChanged();
  }

  private applyBitrate() {
    if (this.pc.iceConnectionState !== "connected" && this.pc.iceConnectionState !== "completed") return;
    const limits = [this.link.kbps, this.qualityCapKbps].filter((v) => v !== undefined);
    const kbps = limits.length ? Math.min(...limits) : undefined;
    if (kbps === this.viewer.kbps) return;
    this.viewer.kbps = kbps;
    this.options.video.bitrateChanged();
  }
}
