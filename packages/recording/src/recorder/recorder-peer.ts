/**
 * The recorder's side of one WebRTC connection to the agent (werift): it answers the agent's offer
 * like any viewer, receives the encoded video and reassembles its frames (frame-assembler.ts) — no
 * decoding, no re-encoding — and listens on the control channel for the agent's screen size and
 * input activity. It never sends input.
 */
import type { Logger } from "@rd/log";
import { RTCIceCandidate, RTCPeerConnection, RTCRtpCodecParameters, type RTCIceServer } from "werift";
import type { RecordedCodec } from "../contracts.ts";
import { type AssembledFrame, FrameAssembler } from "./frame-assembler.ts";

export type IceCandidateJson = {
  candidate: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
  usernameFragment?: string | null;
};

export interface RecorderPeerEvents {
  onCandidate(candidate: IceCandidateJson | null): void;
  onFrame(frame: AssembledFrame, codec: RecordedCodec): void;
  /** A message from the agent's control channel, already parsed as JSON (unvalidated). */
  onControl(message: unknown): void;
  /** The media path failed or closed. */
  onGone(reason: string): void;
}

const feedback = [{ type: "nack" }, { type: "nack", parameter: "pli" }];

/**
 * What the recorder accepts: the two codecs the agent offers, with the agent's H.264 mode. H.264
 * first: werift answers in this order and the agent sends the answer's first codec, and H.264 is
 * the one to store (VP8 recordings do not play in Chromium's MSE).
 */
const CODECS = [
  new RTCRtpCodecParameters({
    mimeType: "video/H264",
    clockRate: 90_000,
    rtcpFeedback: feedback,
    parameters: "packetization-mode=1;profile-level-id=42e01f;level-asymmetry-allowed=1",
  }),
  new RTCRtpCodecParameters({ mimeType: "video/VP8", clockRate: 90_000, rtcpFeedback: feedback }),
];

/** The codec the agent will send for an offer: H.264 whenever it offers it (see CODECS), else VP8. */
export function offeredCodec(sdp: string): RecordedCodec | null {
  if (/a=rtpmap:\d+ H264\/90000/i.test(sdp)) return "h264";
  if (/a=rtpmap:\d+ VP8\/90000/i.test(sdp)) return "vp8";
  return null;
}

export class RecorderPeer {
  private readonly pc: RTCPeerConnection;
  private readonly events: RecorderPeerEvents;
  private readonly log: Logger;
  private readonly clock: () => number;
  private assembler?: FrameAssembler;
  /** The agent's video SSRC, once a packet came: where a keyframe request goes. */
  private ssrc?: number;
  private closed = false;
  /** Asking for a keyframe restarts the agent's encoder: at most once a second. */
  private lastPliAt = 0;

  constructor({
    iceServers,
    log,
    events,
    clock,
  }: {
    iceServers: RTCIceServer[];
    log: Logger;
    events: RecorderPeerEvents;
    /** The recording's clock, in ms: frames are stamped with it when they arrive. */
    clock: () => number;
  }) {
    this.clock = clock;
    this.events = events;
    this.log = log;
    this.pc = new RTCPeerConnection({
      iceServers,
      iceAdditionalHostAddresses: ["127.0.0.1"],
      codecs: { video: CODECS },
    });
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (this.closed) return;
      events.onCandidate(candidate ? (candidate.toJSON() as IceCandidateJson) : null);
    });
    this.pc.onDataChannel.subscribe((channel) => {
      channel.onMessage.subscribe((data) => {
        try {
          events.onControl(JSON.parse(typeof data === "string" ? data : data.toString("utf8")));
        } catch {
          // Not JSON: nothing the recorder needs.
        }
      });
    });
    this.pc.connectionStateChange.subscribe((state) => {
      if (state === "failed" || state === "closed") this.gone(`media connection ${state}`);
    });
  }

  /** Answers the agent's offer; the answer's SDP goes back through signaling. */
  async acceptOffer(sdp: string): Promise<string> {
    const codec = offeredCodec(sdp);
    if (!codec) throw new Error("the agent offered no codec the recorder can store (H.264 or VP8)");
    this.assembler = new FrameAssembler({
      codec,
      onFrame: (frame) => this.events.onFrame(frame, codec),
      onLoss: () => this.requestKeyframe(),
    });
    this.pc.onTrack.subscribe((track) => {
      track.onReceiveRtp.subscribe((rtp) => {
        this.ssrc = rtp.header.ssrc;
        this.assembler?.push(rtp, this.clock());
      });
    });
    await this.pc.setRemoteDescription({ type: "offer", sdp });
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    return this.pc.localDescription!.sdp;
  }

  async addCandidate(candidate: IceCandidateJson | null): Promise<void> {
    if (!candidate?.candidate) return;
    await this.pc.addIceCandidate(
      new RTCIceCandidate({
        candidate: candidate.candidate,
        sdpMid: candidate.sdpMid ?? undefined,
        sdpMLineIndex: candidate.sdpMLineIndex ?? undefined,
      }),
    );
  }

  /** Asks the agent for a keyframe (a PLI); at most once a second, since it restarts the encoder. */
  requestKeyframe(): void {
    const now = performance.now();
    if (this.ssrc === undefined || now - this.lastPliAt < 1000) return;
    this.lastPliAt = now;
    const receiver = this.pc.getTransceivers()[0]?.receiver;
    receiver
      ?.sendRtcpPLI(this.ssrc)
      .catch((error: unknown) => this.log.debug({ err: error }, "PLI not sent"));
  }

  private gone(reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.events.onGone(reason);
    void this.pc.close().catch(() => {});
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pc.close().catch(() => {});
  }
}
