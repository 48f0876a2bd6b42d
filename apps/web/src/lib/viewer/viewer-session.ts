/**
 * One live session from the viewer's side, without any UI: the signaling link, the peer
 * connection, the `input` and `control` channels, and the viewer state machine that the session's
 * states, the peer's connection state and the link's close drive. The component renders what this
 * reports; tests drive it against a real worker.
 */
import {
  type ControlMessage,
  DATA_CHANNELS,
  DATA_LIMITS,
  type InputMessage,
  parseControlMessage,
  type SignalMessage,
} from "@rd/protocol";
import { ViewerPeer } from "./peer.ts";
import { CLOSE_ABNORMAL, SignalingClient } from "./signaling-client.ts";
import {
  canTransition,
  closeOutcome,
  isTerminalViewerState,
  nextViewerState,
  VIEWER_REASONS,
  type ViewerState,
  type ViewerTransition,
} from "./viewer-state.ts";

export interface ViewerSessionEvents {
  /** The viewer's state changed; `reason` explains a terminal state (or a reconnect). */
  onState(state: ViewerState, reason: string | undefined): void;
  /** The agent's screen track arrived (again, after a renegotiation that replaced it). */
  onTrack(event: RTCTrackEvent): void;
  /** A valid message from the agent on the `control` channel. */
  onControl(message: ControlMessage): void;
  /** A `control` message that was refused, in words for the technician. */
  onControlRefused?(problem: string): void;
  /** Whether input can be sent (the `input` channel is open). */
  onInputReady?(ready: boolean): void;
  /**
   * The viewer gave up before the worker accepted its ticket, so it could not end the session over
   * signaling: end it another way (the API), or it stays pending.
   */
  onOrphaned?(): void;
}

export interface ViewerSessionTuning {
  /**
   * How long a failed peer connection may wait for the agent's ICE restart before the viewer gives
   * up: the agent notices the failure too, and a restart's new offer and checks take a few seconds.
   */
  peerFailedGraceMs: number;
  /** How long after the session became active the agent's offer may take (it starts its encoder first). */
  offerTimeoutMs: number;
  /** How long Disconnect waits for the worker to confirm the end before closing the link anyway. */
  endConfirmMs: number;
}

export const DEFAULT_TUNING: ViewerSessionTuning = {
  peerFailedGraceMs: 15_000,
  offerTimeoutMs: 30_000,
  endConfirmMs: 2_000,
};

export interface ViewerSessionOptions {
  sessionId: string;
  ticket: string;
  signalUrl: string;
  iceServers: RTCIceServer[];
  events: ViewerSessionEvents;
  tuning?: Partial<ViewerSessionTuning>;
  createSocket?: (url: string) => WebSocket;
  createPeerConnection?: (config: RTCConfiguration) => RTCPeerConnection;
}

/**
 * Pointer moves are dropped while this much is queued on the input channel: on a congested link a
 * stale move is worth nothing, while clicks and keys must still arrive.
 */
const MAX_BUFFERED_FOR_MOVES = 64 * 1024;

export class ViewerSession {
  private readonly options: ViewerSessionOptions;
  private readonly tuning: ViewerSessionTuning;
  private signaling: SignalingClient | null = null;
  private peer: ViewerPeer | null = null;
  private input: RTCDataChannel | null = null;
  private control: RTCDataChannel | null = null;
  private peerFailedTimer: ReturnType<typeof setTimeout> | undefined;
  private offerTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private offered = false;
  private welcomed = false;
  state: ViewerState = "connecting";
  reason: string | undefined;

  constructor(options: ViewerSessionOptions) {
    this.options = options;
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
  }

  /** The peer connection, once the agent's first offer or candidate arrived. */
  get pc(): RTCPeerConnection | null {
    return this.peer?.pc ?? null;
  }

  start(): void {
    if (this.signaling) return;
    this.signaling = new SignalingClient({
      url: this.options.signalUrl,
      ticket: this.options.ticket,
      createSocket: this.options.createSocket,
      handlers: {
        onWelcome: () => {
          this.welcomed = true;
        },
        onMessage: (message) => this.onSignal(message),
        onClose: ({ code, opened }) => this.onSignalingClosed(code, opened),
        onInvalid: (error) => console.warn("signaling: dropped an invalid message", error),
      },
    });
  }

  /** Sends one input message; false when the channel is not open (or a move was shed under load). */
  sendInput(message: InputMessage): boolean {
    const channel = this.input;
    if (!channel || channel.readyState !== "open") return false;
    if (
      message.type === "input/pointer" &&
      message.action === "move" &&
      channel.bufferedAmount > MAX_BUFFERED_FOR_MOVES
    ) {
      return false;
    }
    return trySend(channel, message);
  }

  /** Sends one control message; false when the channel is not open. */
  sendControl(message: ControlMessage): boolean {
    const channel = this.control;
    if (!channel || channel.readyState !== "open") return false;
    return trySend(channel, message);
  }

  /** The largest message the data channels carry (SCTP max-message-size), once connected. */
  get maxMessageBytes(): number {
    return this.peer?.pc.sctp?.maxMessageSize || Number.POSITIVE_INFINITY;
  }

  /**
   * Ends the session (Disconnect): asks the worker to end it and waits briefly for its word, so the
   * audit trail says the technician ended it rather than that the viewer vanished.
   */
  end(): void {
    if (isTerminalViewerState(this.state)) return;
    if (!this.signaling?.send({ type: "session/end", sessionId: this.options.sessionId })) {
      return this.finish("end", "ended_by_technician");
    }
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => this.finish("end", "ended_by_technician"), this.tuning.endConfirmMs);
  }

  /** The page is going away: say so and close at once (there is no time to wait for an answer). */
  leave(): void {
    this.signaling?.send({ type: "session/end", sessionId: this.options.sessionId });
    if (isTerminalViewerState(this.state)) this.teardown();
    else this.finish("end", "viewer_left");
  }

  private onSignal(message: SignalMessage) {
    switch (message.type) {
      case "session/state":
        switch (message.status) {
          case "awaiting_consent":
            return this.move("askConsent");
          case "active":
            return this.accepted();
          case "ended":
            return this.finish("end", message.reason);
          case "denied":
            return this.finish("deny", message.reason);
          case "failed":
            return this.finish("fail", message.reason);
          default:
            return;
        }
      case "signal/offer":
        // The offer can overtake the active state when the peers sit on different workers.
        if (this.state === "connecting" || this.state === "awaiting_consent") this.accepted();
        this.offered = true;
        clearTimeout(this.offerTimer);
        return void this.ensurePeer().handleOffer(message.sdp);
      case "signal/ice":
        return void this.ensurePeer().handleIce(message.candidate);
      case "error":
        console.warn(`signaling: the worker refused a message (${message.code}): ${message.message}`);
        return;
      default:
        return;
    }
  }

  private accepted() {
    if (!canTransition(this.state, "accept")) return;
    this.move("accept");
    // The media path can be up before the worker's "active" reaches this page (the two travel
    // separately); its "connected" event has then come and gone, so look instead of waiting.
    if (this.peer?.pc.connectionState === "connected") this.move("connect");
    if (!this.offered) {
      clearTimeout(this.offerTimer);
      this.offerTimer = setTimeout(() => {
        if (!this.offered) this.giveUp(VIEWER_REASONS.noOffer);
      }, this.tuning.offerTimeoutMs);
    }
  }

  private ensurePeer(): ViewerPeer {
    if (this.peer) return this.peer;
    const { sessionId, iceServers, createPeerConnection } = this.options;
    this.peer = new ViewerPeer({
      sessionId,
      iceServers,
      createPeerConnection,
      sendSignal: (message) => this.signaling?.send(message),
      events: {
        onTrack: (event) => this.options.events.onTrack(event),
        onChannel: (channel) => this.adoptChannel(channel),
        onConnectionState: (state) => this.onPeerState(state),
        onNegotiationError: (error) => {
          console.warn("webrtc: could not answer the agent's offer", error);
          this.giveUp("negotiation_failed");
        },
      },
    });
    return this.peer;
  }

  private adoptChannel(channel: RTCDataChannel) {
    if (channel.label === DATA_CHANNELS.input) {
      this.input = channel;
      const ready = () => this.options.events.onInputReady?.(channel.readyState === "open");
      channel.onopen = ready;
      channel.onclose = ready;
      ready();
    } else if (channel.label === DATA_CHANNELS.control) {
      this.control = channel;
      channel.onmessage = (event: MessageEvent) => {
        const parsed = parseControlMessage(event.data);
        if (parsed.ok) return this.options.events.onControl(parsed.message);
        console.warn("control: dropped an invalid message", parsed.error);
        this.options.events.onControlRefused?.(refusedControl(event.data, parsed.error));
      };
    } else {
      console.warn(`webrtc: ignoring an unexpected data channel "${channel.label}"`);
    }
  }

  private onPeerState(state: RTCPeerConnectionState) {
    if (isTerminalViewerState(this.state)) return;
    if (state === "connected") {
      clearTimeout(this.peerFailedTimer);
      this.peerFailedTimer = undefined;
      if (canTransition(this.state, "connect")) this.move("connect");
      return;
    }
    if (state === "disconnected" || state === "failed") {
      if (this.state === "live") this.move("lose");
      // "disconnected" may heal by itself (RFC 7675 consent freshness allows ~30 s); "failed" needs
      // the agent's ICE restart, which gets a grace period before the viewer gives up.
      if (state === "failed" && this.peerFailedTimer === undefined) {
        this.peerFailedTimer = setTimeout(
          () => this.giveUp(VIEWER_REASONS.peerFailed),
          this.tuning.peerFailedGraceMs,
        );
      }
    }
  }

  private onSignalingClosed(code: number, opened: boolean) {
    if (isTerminalViewerState(this.state)) return this.teardown();
    if (!opened && code === CLOSE_ABNORMAL) return this.finish("fail", VIEWER_REASONS.unreachable);
    const outcome = closeOutcome(code);
    this.finish(outcome.state === "ended" ? "end" : "fail", outcome.reason);
  }

  /** The viewer cannot go on: it ends the session so the agent stops too, and shows why. */
  private giveUp(reason: string) {
    if (isTerminalViewerState(this.state)) return;
    this.signaling?.send({ type: "session/end", sessionId: this.options.sessionId });
    this.finish("fail", reason);
  }

  private move(transition: ViewerTransition, reason?: string) {
    if (!canTransition(this.state, transition)) {
      // Not silent: a message out of order is worth knowing about, but no reason to break the session.
      console.warn(`viewer: ignored "${transition}" while ${this.state}`);
      return;
    }
    this.state = nextViewerState(this.state, transition);
    this.reason = reason;
    this.options.events.onState(this.state, reason);
  }

  private finish(transition: "end" | "deny" | "fail", reason: string | undefined) {
    if (isTerminalViewerState(this.state)) return;
    // A denial can only follow the request; should one come later, the session still is over.
    this.move(canTransition(this.state, transition) ? transition : "end", reason);
    this.teardown();
    if (!this.welcomed) this.options.events.onOrphaned?.();
  }

  private teardown() {
    clearTimeout(this.peerFailedTimer);
    clearTimeout(this.offerTimer);
    clearTimeout(this.endTimer);
    this.peer?.close();
    this.input = null;
    this.control = null;
    this.options.events.onInputReady?.(false);
    this.signaling?.close();
  }
}

/** Sends on a channel that may close under our feet, or refuse a message over its size limit. */
function trySend(channel: RTCDataChannel, message: InputMessage | ControlMessage): boolean {
  try {
    channel.send(JSON.stringify(message));
    return true;
  } catch (error) {
    console.warn(`webrtc: could not send ${message.type}`, error);
    return false;
  }
}

/** Why a control message was refused: the clipboard's size limit by name, anything else as the parser said. */
export function refusedControl(frame: unknown, error: string): string {
  const tooBig = `The remote clipboard holds more than ${DATA_LIMITS.clipboardChars.toLocaleString("en-US")} characters, so it was not copied.`;
  if (typeof frame !== "string") return `A message from the agent was ignored (${error}).`;
  // Over the message limit nothing is parsed; only clipboard text gets that large.
  if (frame.length > DATA_LIMITS.maxMessageBytes) return tooBig;
  try {
    const m = JSON.parse(frame) as { type?: unknown; text?: unknown };
    if (
      m.type === "control/clipboard" &&
      typeof m.text === "string" &&
      m.text.length > DATA_LIMITS.clipboardChars
    )
      return tooBig;
  } catch {
    // Not JSON: the parser's error says so.
  }
  return `A message from the agent was ignored (${error}).`;
}
