/**
 * The agent's side of one WebRTC session (werift): a sendonly video track and the `input` and
 * `control` data channels. The agent offers every codec it encodes, its configured one first; the
 * viewer's answer picks one, and the track is fed from the display's shared source of that codec
 * (video-sources.ts). Candidates trickle both ways through the signaling worker.
 * Picture-loss reports ask the source for a keyframe, lost packets are sent again through the pacer,
 * receiver bitrate estimates (REMB) steer the encoder, and a broken ICE path is restarted before the
 * session is given up.
 */
import type { Logger } from "@rd/log";
import { DATA_CHANNELS } from "@rd/protocol";
import {
  MediaStreamTrack,
  RTCIceCandidate,
  RTCPeerConnection,
  type RTCIceServer,
  type RTCRtpTransceiver,
} from "werift";
import { RtpPacketizer } from "./capture/rtp-packetizer.ts";
import { LinkEstimate } from "./link-estimate.ts";
import { LossEstimate } from "./loss-estimate.ts";
import { RtpPacer } from "./rtp-pacer.ts";
import { MIN_PACE_KBPS, PaceControl, type PaceChange } from "./pace-control.ts";
import { holdEarlyDtls } from "./early-dtls.ts";
import { reportIceAtOnce } from "./ice-checks.ts";
import {
  absSendTime,
  offeredVideoExtensions,
  sendTimeId,
  setExtension,
  zeroPlayoutDelay,
} from "./rtp-extensions.ts";
import { SentPackets, takeOverRetransmission } from "./retransmission.ts";
import { isMdnsCandidate, withoutMdnsCandidates } from "./mdns-candidates.ts";
import { type VideoCodec, videoCodecOf } from "./capture/video-codec.ts";
import type { EncodedFrame } from "./capture/encoded-frame.ts";
import type { VideoSource, VideoViewer } from "./capture/video-source.ts";
import type { VideoSources } from "./capture/video-sources.ts";
import { TileFeed } from "./capture/tiles/tile-feed.ts";
import { shortenRetransmissionTimeout } from "./capture/tiles/sctp-timeout.ts";
import type { TileStream } from "./capture/tiles/tile-stream.ts";
import { unusableVideoAnswer, videoCodecParameters } from "./video-negotiation.ts";

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
  /** The viewer closed its connection (its page went away); the session carries on without it. */
  onGone(reason: string): void;
}

export interface AgentPeerOptions {
  iceServers: RTCIceServer[];
  /** The display's sources: the offer lists their codecs, and the answer picks the one to watch. */
  video: VideoSources;
  /** The display's tiles, for a viewer that can take them (a browser's page, not the recorder). */
  tiles?: TileStream;
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
/** Frames kept for a viewer whose media path is not up yet (see hold()). */
const MAX_HELD_FRAMES = 30;
const RTP_TICKS_PER_MS = 90;
/** The encoder is held this far under the pace, so the queue drains between frames. */
const PACE_HEADROOM = 0.85;
const CLOSE_TIMEOUT_MS = 2000;

export class AgentPeer {
  readonly pc: RTCPeerConnection;
  private readonly track = new MediaStreamTrack({ kind: "video" });
  private readonly transceiver: RTCRtpTransceiver;
  private readonly control;
  /** Whether the picture goes as tiles or as video, with `tiles` (capture/tiles/tile-feed.ts). */
  private readonly tileFeed?: TileFeed;
  private readonly viewer: VideoViewer;
  /** The source of the codec the viewer's answer chose, and the RTP payload format for it. */
  private feed?: { source: VideoSource; packetizer: RtpPacketizer; sendTimeId?: number };
  /** ICE and DTLS came up once: frames can flow, and a later "connected" is a recovery. */
  private mediaUp = false;
  /** SRTP can carry frames: the DTLS transport is up (before the peer's "connected"; see videoPathUp). */
  private videoUp = false;
  /** Frames encoded before the media path was up, from a keyframe on (see hold()). */
  private held: EncodedFrame[] = [];
  /** A frame was let go before the media path was up: the viewer needs a keyframe when it is. */
  private missedFrame = false;
  private unsubscribeVideo?: () => void;
  private disconnectedTimer?: ReturnType<typeof setTimeout>;
  private establishTimer?: ReturnType<typeof setTimeout>;
  private bitrateTimer?: ReturnType<typeof setInterval>;
  private restarts = 0;
  /** The technician's quality choice caps the bitrate; undefined = follow the estimate. */
  private qualityCapKbps?: number;
  private readonly link = new LinkEstimate();
  private readonly loss = new LossEstimate();
  private bytesSinceEstimate = 0;
  /** Spreads packets out once the link has shown it drops bursts (pace-control.ts says when). */
  private readonly pacer: RtpPacer;
  /** The viewer's cumulative count of lost video packets, as last reported. */
  private packetsLostReported = 0;
  private readonly pace = new PaceControl();
  private readonly sentPackets = new SentPackets();
  private closed = false;
  private readonly options: AgentPeerOptions;

  constructor(options: AgentPeerOptions) {
    this.options = options;
    const { iceServers, events, log, video } = options;
    this.pc = new RTCPeerConnection({
      iceServers,
      // werift leaves out loopback candidates unless asked; a viewer on the same machine needs them.
      iceAdditionalHostAddresses: ["127.0.0.1"],
      // One transport for the video and the data channels, as every browser answers. werift's
      // default offers one per m-line, gathers and trickles candidates for both, and when the answer
      // bundles, never closes the one left over: three UDP sockets leaked with every viewer.
      bundlePolicy: "max-bundle",
      // All of them, so that a browser which cannot decode the preferred one still gets a picture
      // (Firefox decodes H.264 only with its OpenH264 plugin, which an offline machine lacks).
      codecs: { video: videoCodecParameters(video.codecs) },
      // Each frame shown as soon as it is decoded, each packet stamped as it leaves (rtp-extensions.ts).
      headerExtensions: { video: offeredVideoExtensions() },
    });
    this.transceiver = this.pc.addTransceiver(this.track, { direction: "sendonly" });
    const input = this.pc.createDataChannel(DATA_CHANNELS.input, { ordered: true });
    this.control = this.pc.createDataChannel(DATA_CHANNELS.control, { ordered: true });
    if (options.tiles) {
      this.tileFeed = new TileFeed({
        channel: this.pc.createDataChannel(DATA_CHANNELS.screen, { ordered: true }),
        stream: options.tiles,
        video: { watch: () => this.watch(), unwatch: () => this.unwatch() },
        log,
      });
    }
    input.onMessage.subscribe((data) => events.onInput(data));
    this.control.onMessage.subscribe((data) => events.onControl(data));

    this.pacer = new RtpPacer(
      (packet) => {
        const id = this.feed?.sendTimeId;
        if (id !== undefined)
          setExtension(packet, id, absSendTime(performance.timeOrigin + performance.now()));
        this.loss.sent(packet.serializeSize);
        this.sentPackets.remember(packet);
        this.track.writeRtp(packet);
      },
      (dropped) => {
        this.loss.unsent(dropped);
        this.source?.requestKeyframe();
      },
    );
    this.viewer = {
      onFrame: (frame) => {
        if (!this.feed) return;
        if (!this.videoUp) return this.hold(frame);
        this.tileFeed?.videoFrame();
        this.send(frame);
      },
      onScreen: (size) => this.sendControl({ type: "control/screen", ...size }),
    };
    this.transceiver.sender.onRtcp.subscribe((packet) => {
      if (packet.type !== 201) return; // receiver reports only
      const report = packet.reports.find((r) => r.ssrc === this.transceiver.sender.ssrc);
      if (report) this.lossReported(report.packetsLost, report.highestSequence);
    });
    // Packets the viewer lost go again through the pacer (retransmission.ts), not in werift's bursts.
    takeOverRetransmission(this.transceiver.sender);
    this.transceiver.sender.onGenericNack.subscribe((nack) =>
      this.pacer.resend(this.sentPackets.find(nack.lost)),
    );
    this.transceiver.sender.onPictureLossIndication.subscribe(() => {
      this.pictureLost();
      this.source?.requestKeyframe();
    });

    this.pc.onIceCandidate.subscribe((candidate) => {
      if (this.closed) return;
      events.onCandidate(candidate ? (candidate.toJSON() as IceCandidateJson) : null);
    });
    this.pc.iceConnectionStateChange.subscribe((state) => this.iceStateChanged(state));
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "connected") this.mediaReady();
    });
    this.control.stateChanged.subscribe((state) => {
      const size = this.source?.screenSize;
      if (state === "open" && size) this.sendControl({ type: "control/screen", ...size });
      // A viewer never closes its control channel by itself: closed, the viewer closed its whole
      // connection (an SCTP abort: a page that went away). werift's ICE makes no consent checks and
      // would go on calling the connection "connected", streaming video into the void until the
      // worker's grace period for the participant ran out (seen in bench:media: a page whose "away"
      // did not arrive kept its peer at ~2 Mbit/s, and its dropped packets restarted the encoder
      // for a keyframe every second).
      else if (state === "closed" && !this.closed) events.onGone("the viewer closed its connection");
    });
    log.debug({}, "peer created");
  }

  /** The source this viewer is fed from (its codec is the peer's); undefined until the answer. */
  get source(): VideoSource | undefined {
    return this.feed?.source;
  }

  /** Creates and sends the offer; call once, after the session is accepted. */
  async start(): Promise<void> {
    await this.sendOffer(false);
  }

  /** Applies the viewer's answer and feeds the viewer the codec it chose; fails the peer if none. */
  async acceptAnswer(sdp: string): Promise<void> {
    const unusable = unusableVideoAnswer(sdp);
    if (unusable) return this.options.events.onFailed(unusable);
    await this.pc.setRemoteDescription({ type: "answer", sdp: withoutMdnsCandidates(sdp) });
    if (this.closed) return;
    // werift sends the answer's first codec it shares with the offer (RFC 3264 §6.1: the answerer's
    // preference); that is the codec to encode.
    const negotiated = this.transceiver.sender.codec;
    const codec = videoCodecOf(negotiated?.mimeType);
    if (!negotiated || !codec) {
      return this.options.events.onFailed(
        `the viewer's answer left no video codec to send (${negotiated?.mimeType ?? "none"})`,
      );
    }
    this.feedFrom(codec, negotiated.payloadType, sdp);
    // Until the media path first comes up, an attempt that stalls is restarted (see the constant).
    if (!this.mediaUp) {
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
    this.pacer.close();
    this.tileFeed?.close();
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
    // Before the association starts: its INIT is timed by the same timeout (sctp-timeout.ts).
    shortenRetransmissionTimeout(this.pc);
    reportIceAtOnce(this.pc);
    holdEarlyDtls(this.pc, (count) =>
      this.options.log.debug({ count }, "handed the viewer's early DTLS packets to the DTLS server"),
    );
    this.watchVideoPath();
    if (this.closed) return;
    this.options.events.onOffer(this.pc.localDescription!.sdp);
  }

  private iceStateChanged(state: string) {
    const { log, events } = this.options;
    log.debug({ state }, "ice state");
    if (this.closed) return;
    if (state === "connected" || state === "completed") {
      clearTimeout(this.disconnectedTimer);
      this.disconnectedTimer = undefined;
      this.applyBitrate();
      // Back after a restart or a blip: frames sent meanwhile were lost, so start from a keyframe.
      // (The first connection waits for DTLS as well; see mediaReady.)
      if (this.mediaUp) {
        this.source?.requestKeyframe();
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
    if (this.closed || this.mediaUp) return;
    this.mediaUp = true;
    if (!shortenRetransmissionTimeout(this.pc))
      this.options.log.warn({}, "cannot shorten the data channels' retransmission timeout");
    this.tileFeed?.mediaUp();
    this.videoPathUp();
    this.bitrateTimer ??= setInterval(() => this.readEstimate(), BITRATE_POLL_MS);
    this.options.events.onConnected();
  }

  /**
   * The video's first frame goes as soon as the video's DTLS transport is up, SRTP with it. werift
   * calls the peer "connected" only once SCTP (the data channels) has shaken hands too, two more
   * round trips between two busy event loops: the first picture waited 20–35 ms for it in
   * bench:media, on every connection.
   */
  private watchVideoPath() {
    const transport = this.transceiver.dtlsTransport;
    if (!transport || this.videoUp || transport.state === "connected") return;
    const watching = transport.onStateChange.subscribe((state) => {
      if (state !== "connected" && state !== "closed" && state !== "failed") return;
      watching.unSubscribe();
      if (state === "connected") this.videoPathUp();
    });
  }

  private videoPathUp() {
    if (this.closed || this.videoUp) return;
    this.videoUp = true;
    this.options.log.debug({ held: this.held.length }, "video path up");
    this.sendHeld();
  }

  /**
   * Before the media path is up, frames are kept from the last keyframe on: the encoder starts at
   * the answer, while ICE and DTLS are still being set up, and its first keyframe goes out the
   * moment they are done instead of being encoded only then. Too many (a busy screen, a slow path)
   * and they are dropped for a fresh keyframe at connection.
   */
  private hold(frame: EncodedFrame) {
    if (frame.keyframe) this.held = [frame];
    else if (this.held.length && this.held.length < MAX_HELD_FRAMES) this.held.push(frame);
    else {
      this.held = [];
      this.missedFrame = true;
    }
  }

  /**
   * Sends what was held. With nothing held and nothing let go, the first frame of this viewer's
   * encoder is still to come, and is a keyframe: asking for one restarted the encoder a second
   * later, for nothing, in every session whose media path was up first (1080p motion: 5 of 8).
   */
  private sendHeld() {
    const held = this.held;
    this.held = [];
    if (!this.feed) return;
    if (!held.length) {
      if (this.missedFrame) this.source?.requestKeyframe();
      return;
    }
    this.tileFeed?.videoFrame();
    // Stamped a millisecond apart, the last one now: they are shown at once, in order.
    const now = this.feed.packetizer.timestampNow();
    held.forEach((frame, i) => this.send(frame, (now - (held.length - 1 - i) * RTP_TICKS_PER_MS) >>> 0));
  }

  /** A frame to the pacer, counted for the estimate and the pace. */
  private send(frame: EncodedFrame, timestamp?: number) {
    this.bytesSinceEstimate += frame.data.length;
    if (frame.keyframe) this.pace.keyframeSent(performance.now(), frame.data.length);
    this.pacer.send(this.feed!.packetizer.packetize(frame.data, timestamp));
  }

  /**
   * Feeds the viewer from the display's source of `codec`. A later answer (an ICE restart's) names
   * the same codec, since werift's restart offer lists only the negotiated codecs, the chosen one
   * first; should it ever differ, the viewer moves to the other source, whose first frame for it is
   * a keyframe.
   */
  private feedFrom(codec: VideoCodec, payloadType: number, answerSdp: string) {
    if (this.feed?.source.codec === codec) return;
    const previous = this.feed?.source;
    this.unsubscribeVideo?.();
    this.unsubscribeVideo = undefined;
    // Without this viewer the old source may now be allowed a higher rate.
    previous?.bitrateChanged();
    const playoutDelay = zeroPlayoutDelay(answerSdp);
    this.feed = {
      source: this.options.video.get(codec),
      packetizer: new RtpPacketizer(codec, payloadType, playoutDelay ? [playoutDelay] : []),
      sendTimeId: sendTimeId(answerSdp),
    };
    this.options.log.info(
      { codec, previous: previous?.codec, zeroPlayoutDelay: Boolean(playoutDelay) },
      "video codec negotiated",
    );
    // Video first, also for a viewer about to take tiles: its first picture comes sooner
    // (capture/tiles/tile-stream.ts), and the tile feed stops it once the tiles take over.
    this.watch();
  }

  /** Subscribes to the source as soon as the answer names the codec (see hold()). */
  private watch() {
    if (this.closed || !this.feed || this.unsubscribeVideo) return;
    this.unsubscribeVideo = this.feed.source.subscribe(this.viewer);
  }

  /** The viewer takes tiles: its frames stop (and the encoder, if nobody else watches). */
  private unwatch() {
    this.unsubscribeVideo?.();
    this.unsubscribeVideo = undefined;
    this.held = [];
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
    if (this.source) this.link.read(estimate, sentKbps, this.source.targetKbps);
    const reading = {
      estimateKbps: estimate / 1000,
      countedKbps: this.carriedKbps(),
      collapsed: this.link.collapsed,
    };
    this.options.log.debug({ ...reading, sentKbps, pacedKbps: this.pace.kbps }, "link reading");
    this.setPace(this.pace.linkRead(performance.now(), reading));
    this.applyBitrate();
  }

  /** A receiver report: a stream losing too much of itself slows to what got through, at once. */
  private lossReported(packetsLost: number, highestSequence: number) {
    // Packets the viewer never got (not NACKs: a jittery link reorders, and is asked again for
    // what then arrives): the link is short of room.
    if (packetsLost > this.packetsLostReported) this.tileFeed?.videoTrouble();
    this.packetsLostReported = packetsLost;
    const now = performance.now();
    const budget = this.source?.targetKbps ?? 0;
    if (this.loss.report(now, packetsLost, highestSequence, budget) !== "cut") return;
    this.options.log.debug({ deliveredKbps: this.loss.deliveredKbps }, "losing packets");
    this.setPace(this.pace.linkNarrowed(now, { countedKbps: this.carriedKbps(), collapsed: true }));
    this.applyBitrate();
  }

  /** What the link carries by the least of what delay (the estimate) and loss (the reports) say. */
  private carriedKbps(): number | undefined {
    const carried = [this.link.estimateKbps, this.loss.deliveredKbps].filter((v) => v !== undefined);
    return carried.length ? Math.min(...carried) : undefined;
  }

  /**
   * A viewer whose path is down (a closed page, a lost network) says nothing about what the others
   * can take: its last estimate must not hold the shared encoder down meanwhile.
   */
  private ignoreEstimate() {
    if (this.viewer.kbps === undefined) return;
    this.viewer.kbps = undefined;
    this.source?.bitrateChanged();
  }

  /** The viewer lost a picture: perhaps a keyframe, which says the link drops bursts. */
  private pictureLost() {
    const estimate = Number(this.transceiver.sender.receiverEstimatedMaxBitrate ?? 0n) / 1000;
    const target = this.source?.targetKbps ?? MIN_PACE_KBPS * 4;
    const change = this.pace.pictureLost(performance.now(), estimate, target);
    this.setPace(change);
    if (change) this.applyBitrate();
  }

  private setPace(change: PaceChange | undefined) {
    if (!change) return;
    this.pacer.rateKbps = change.kbps;
    if (change.why !== "link calm") this.options.log.info(change, "pacing the stream");
  }

  private applyBitrate() {
    if (this.pc.iceConnectionState !== "connected" && this.pc.iceConnectionState !== "completed") return;
    const paced = this.pacer.rateKbps === undefined ? undefined : this.pacer.rateKbps * PACE_HEADROOM;
    const lossy = this.loss.deliveredKbps === undefined ? undefined : this.loss.deliveredKbps * PACE_HEADROOM;
    const limits = [this.link.kbps, lossy, this.qualityCapKbps, paced].filter((v) => v !== undefined);
    const kbps = limits.length ? Math.min(...limits) : undefined;
    if (kbps === this.viewer.kbps) return;
    this.viewer.kbps = kbps;
    this.source?.bitrateChanged();
  }
}
