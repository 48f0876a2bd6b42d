/**
 * The viewer's side of the WebRTC connection. The agent is the offerer; the viewer answers every
 * offer it sends (the first, and each renegotiation such as an ICE restart), trickles its own
 * candidates back, and holds remote candidates until the description they belong to is applied.
 */
import type { SignalMessage, SignalMessageOf } from "@rd/protocol";

export type IceCandidateMessage = SignalMessageOf<"signal/ice">["candidate"];

export interface PeerEvents {
  /** A remote track arrived (the agent's screen). */
  onTrack(event: RTCTrackEvent): void;
  /** The agent opened a data channel (`input` or `control`). */
  onChannel(channel: RTCDataChannel): void;
  /** The peer connection's aggregate state (W3C webrtc-pc §4.3.3). */
  onConnectionState(state: RTCPeerConnectionState): void;
  /** An offer could not be applied or answered: negotiation failed. */
  onNegotiationError(error: unknown): void;
}

export interface PeerOptions {
  sessionId: string;
  /** This viewer in the session: the agent runs one peer connection per participant. */
  participantId: string;
  /** STUN/TURN servers: the signaling worker's (short-lived TURN credentials), then the page's. */
  iceServers: RTCIceServer[];
  /** Sends a negotiation message to the agent through the signaling worker. */
  sendSignal(message: SignalMessage): void;
  events: PeerEvents;
  /** Makes the connection; the browser's RTCPeerConnection unless a test brings another implementation. */
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
}

export class ViewerPeer {
  readonly pc: RTCPeerConnection;
  private readonly sessionId: string;
  private readonly participantId: string;
  private readonly sendSignal: (message: SignalMessage) => void;
  private readonly events: PeerEvents;
  /** Offers are applied one at a time, in arrival order. */
  private chain: Promise<void> = Promise.resolve();
  /** Offers received and not yet applied: while any is, candidates wait, since they may belong to it. */
  private offersInFlight = 0;
  private pendingCandidates: IceCandidateMessage[] = [];
  /**
   * Local candidates gathered while an answer is being made. Some stacks fire them before
   * setLocalDescription resolves; the agent needs the answer first to know their ufrag.
   */
  private heldLocal: IceCandidateMessage[] | null = null;
  private iceServers: RTCIceServer[];
  private closed = false;

  constructor({
    sessionId,
    participantId,
    iceServers,
    sendSignal,
    events,
    createPeerConnection = (config) => new RTCPeerConnection(config),
  }: PeerOptions) {
    this.sessionId = sessionId;
    this.participantId = participantId;
    this.sendSignal = sendSignal;
    this.events = events;
    this.iceServers = iceServers;
    this.pc = createPeerConnection({ iceServers });
    this.pc.onicecandidate = (event) => {
      if (this.closed) return;
      const c = event.candidate;
      // An empty candidate string is an older browsers' per-section end marker; the null that
      // follows when gathering completes says the same once for all.
      if (c && !c.candidate) return;
      const candidate = c
        ? {
            candidate: c.candidate,
            sdpMid: c.sdpMid ?? null,
            sdpMLineIndex: c.sdpMLineIndex ?? null,
            usernameFragment: c.usernameFragment ?? null,
          }
        : null;
      if (this.heldLocal) this.heldLocal.push(candidate);
      else this.sendIce(candidate);
    };
    this.pc.ontrack = (event) => {
      playImmediately(event.receiver);
      this.events.onTrack(event);
    };
    this.pc.ondatachannel = (event) => this.events.onChannel(event.channel);
    this.pc.onconnectionstatechange = () => this.events.onConnectionState(this.pc.connectionState);
  }

  /**
   * Answers an offer from the agent; a later offer (renegotiation, ICE restart) is answered the same
   * way. Resolves when it is answered or has failed (failures go to onNegotiationError).
   */
  handleOffer(sdp: string): Promise<void> {
    this.offersInFlight += 1;
    this.chain = this.chain.then(() => this.answer(sdp));
    return this.chain;
  }

  /**
   * Adds a remote candidate (null: the end of candidates). Before the offer it belongs to has been
   * applied, addIceCandidate would fail (webrtc-pc §4.4.1.6: InvalidStateError without a remote
   * description), so it waits in order until then.
   */
  async handleIce(candidate: IceCandidateMessage): Promise<void> {
    if (this.closed) return;
    if (this.offersInFlight > 0 || !this.pc.remoteDescription) {
      this.pendingCandidates.push(candidate);
      return;
    }
    await this.addCandidate(candidate);
  }

  /**
   * Replaces the STUN/TURN servers (a fresh TURN credential after a signaling reconnect). As
   * webrtc-pc's setConfiguration says, they are used from the next gathering on: an ICE restart.
   */
  setIceServers(iceServers: RTCIceServer[]): void {
    if (this.closed || JSON.stringify(iceServers) === JSON.stringify(this.iceServers)) return;
    this.iceServers = iceServers;
    try {
      this.pc.setConfiguration({ ...this.pc.getConfiguration(), iceServers });
    } catch (error) {
      // The current ones stay; only a later ICE restart could have used the new ones.
      console.warn("webrtc: could not update the ICE servers", error);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.pendingCandidates = [];
    this.pc.onicecandidate = null;
    this.pc.ontrack = null;
    this.pc.ondatachannel = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
  }

  private async answer(sdp: string) {
    if (this.closed) return;
    this.heldLocal = [];
    try {
      await this.pc.setRemoteDescription({ type: "offer", sdp });
      const answer = await this.pc.createAnswer();
      await this.pc.setLocalDescription(answer);
      if (this.closed) return;
      this.sendSignal({
        type: "signal/answer",
        sessionId: this.sessionId,
        participantId: this.participantId,
        sdp: this.pc.localDescription?.sdp ?? answer.sdp ?? "",
      });
    } catch (error) {
      if (!this.closed) this.events.onNegotiationError(error);
    } finally {
      const held = this.heldLocal;
      this.heldLocal = null;
      for (const candidate of held) if (!this.closed) this.sendIce(candidate);
      this.offersInFlight -= 1;
      await this.flushCandidates();
    }
  }

  private sendIce(candidate: IceCandidateMessage) {
    this.sendSignal({
      type: "signal/ice",
      sessionId: this.sessionId,
      participantId: this.participantId,
      candidate,
    });
  }

  private async flushCandidates() {
    // Another offer may have queued behind this one; its candidates wait for it.
    while (this.offersInFlight === 0 && !this.closed && this.pc.remoteDescription) {
      const next = this.pendingCandidates.shift();
      if (next === undefined) return;
      await this.addCandidate(next);
    }
  }

  private async addCandidate(candidate: IceCandidateMessage) {
    try {
      if (candidate) {
        await this.pc.addIceCandidate({
          candidate: candidate.candidate,
          sdpMid: candidate.sdpMid ?? null,
          sdpMLineIndex: candidate.sdpMLineIndex ?? null,
          usernameFragment: candidate.usernameFragment ?? null,
        });
      } else {
        await this.pc.addIceCandidate();
      }
    } catch (error) {
      // A candidate of an ICE generation that a restart replaced is refused (OperationError); it
      // is of no use anyway, and one bad candidate must not stop the others.
      console.debug("remote ICE candidate not added", error);
    }
  }
}

/**
 * A remote desktop is interactive: show each frame as soon as it is decoded instead of holding it
 * in the jitter buffer to smooth playback, which a video call wants and a pointer does not.
 * `jitterBufferTarget` is the standard knob (Chrome 114+, Firefox 123+); `playoutDelayHint` is
 * Chrome's older one. Browsers without either keep their defaults.
 */
function playImmediately(receiver: RTCRtpReceiver): void {
  const knobs = receiver as RTCRtpReceiver & {
    jitterBufferTarget?: number | null;
    playoutDelayHint?: number;
  };
  if ("jitterBufferTarget" in knobs) knobs.jitterBufferTarget = 0;
  if ("playoutDelayHint" in knobs) knobs.playoutDelayHint = 0;
}
