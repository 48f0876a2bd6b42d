/**
 * One live session from a viewer's side, without any UI: the signaling link (and its reconnects),
 * the peer connection, the `input` and `control` channels, who is in the session and who has
 * control, and the viewer state machine that the session's states, the peer's connection state and
 * the link's close drive. The component renders what this reports; tests drive it against a real
 * worker.
 *
 * The media is peer to peer: when the signaling link drops (a restarted worker, a network blip),
 * the picture and the input channel carry on, and the link comes back with a fresh ticket.
 */
import {
  type ControlMessage,
  DATA_CHANNELS,
  DATA_LIMITS,
  type InputMessage,
  parseControlMessage,
  type ParticipantView,
  type SignalMessage,
  type SignalMessageOf,
} from "@rd/protocol";
import { ViewerPeer } from "./peer.ts";
import { CLOSE_ABNORMAL, SignalingClient } from "@rd/protocol/signaling-client";
import {
  canTransition,
  closeOutcome,
  isTerminalViewerState,
  nextViewerState,
  RESUMABLE_CLOSES,
  VIEWER_REASONS,
  type ViewerState,
  type ViewerTransition,
} from "./viewer-state.ts";

/** Who is in the session, as this viewer sees it. */
export interface ParticipantsView {
  /** This viewer's own participant id. */
  me: string;
  controllerId: string | null;
  participants: ParticipantView[];
}

/** A ticket could not be had: `final` when asking again will not help (the session is over, you left). */
export class TicketUnavailable extends Error {
  readonly final: boolean;
  readonly reason: string | undefined;
  readonly state: "ended" | "denied" | "failed";
  constructor(
    message: string,
    options: { final: boolean; reason?: string; state?: "ended" | "denied" | "failed" },
  ) {
    super(message);
    this.name = "TicketUnavailable";
    this.final = options.final;
    this.reason = options.reason;
    this.state = options.state ?? "ended";
  }
}

export interface ViewerSessionEvents {
  /** The viewer's state changed; `reason` explains a terminal state (or a reconnect). */
  onState(state: ViewerState, reason: string | undefined): void;
  /** The agent's screen track arrived (again, after a renegotiation that replaced it). */
  onTrack(event: RTCTrackEvent): void;
  /** The agent's `screen` channel: its picture as tiles while the screen suits them (tile-screen.ts). */
  onScreenChannel?(channel: RTCDataChannel): void;
  /** A valid message from the agent on the `control` channel. */
  onControl(message: ControlMessage): void;
  /** A `control` message that was refused, in words for the technician. */
  onControlRefused?(problem: string): void;
  /** Whether input can be sent (the `input` channel is open). */
  onInputReady?(ready: boolean): void;
  /** Who is in the session and who has control changed. */
  onParticipants?(view: ParticipantsView): void;
  /** The signaling link is up, or lost and coming back (the picture carries on meanwhile). */
  onSignaling?(status: "connected" | "reconnecting"): void;
  /** The worker refused something this viewer asked for (control, ending the session), in words. */
  onRefused?(message: string): void;
  /**
   * The viewer gave up before the worker ever accepted it, so it could not leave the session over
   * signaling: leave it another way (the API), or its place waits for the sweep.
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
  /** How long "End session" waits for the worker to confirm before closing the link anyway. */
  endConfirmMs: number;
  /** Reconnect backoff: the first wait, doubled per attempt up to the longest (plus jitter). */
  reconnectFirstMs: number;
  reconnectMaxMs: number;
}

export const DEFAULT_TUNING: ViewerSessionTuning = {
  peerFailedGraceMs: 15_000,
  offerTimeoutMs: 30_000,
  endConfirmMs: 2_000,
  reconnectFirstMs: 300,
  reconnectMaxMs: 5_000,
};

export interface ViewerSessionOptions {
  sessionId: string;
  /** A fresh single-use ticket, for the first connection and every reconnect. */
  getTicket(): Promise<string>;
  signalUrl: string;
  /** The page's own STUN/TURN servers; the worker's (with a fresh TURN credential) go first. */
  iceServers: RTCIceServer[];
  events: ViewerSessionEvents;
  tuning?: Partial<ViewerSessionTuning>;
  /** This page's peer-connection instance; a random one by default (a reload is a new one). */
  peer?: string;
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
  readonly peerToken: string;
  private signaling: SignalingClient | null = null;
  private peer: ViewerPeer | null = null;
  private input: RTCDataChannel | null = null;
  private control: RTCDataChannel | null = null;
  private peerFailedTimer: ReturnType<typeof setTimeout> | undefined;
  private offerTimer: ReturnType<typeof setTimeout> | undefined;
  private endTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private reconnectAttempt = 0;
  private offered = false;
  private everWelcomed = false;
  /** This viewer asked to end the session: the end that follows is its own doing. */
  private endRequested = false;
  private started = false;
  private snapshotVersion = -1;
  /** The worker's STUN/TURN servers from its latest welcome: each welcome brings a fresh credential. */
  private workerIceServers: RTCIceServer[] = [];
  /** This viewer's participant id, from the worker's welcome. */
  participantId: string | null = null;
  participants: ParticipantsView | null = null;
  state: ViewerState = "connecting";
  reason: string | undefined;

  constructor(options: ViewerSessionOptions) {
    this.options = options;
    this.tuning = { ...DEFAULT_TUNING, ...options.tuning };
    this.peerToken = options.peer ?? `page-${crypto.randomUUID()}`;
  }

  /** The peer connection, once the agent's first offer or candidate arrived. */
  get pc(): RTCPeerConnection | null {
    return this.peer?.pc ?? null;
  }

  /** Whether this viewer holds control (the agent injects only the controller's input). */
  get inControl(): boolean {
    return !!this.participantId && this.participants?.controllerId === this.participantId;
  }

  start(): void {
    if (this.started) return;
    this.started = true;
    void this.connect();
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

  // ——— Control ———

  requestControl = () => this.signal({ type: "control/request", sessionId: this.options.sessionId });
  releaseControl = () => this.signal({ type: "control/release", sessionId: this.options.sessionId });
  takeControl = () => this.signal({ type: "control/take", sessionId: this.options.sessionId });
  grantControl = (to: string) =>
    this.signal({ type: "control/grant", sessionId: this.options.sessionId, to });

  /**
   * Ends the session for everyone (End session): asks the worker and waits briefly for its word, so
   * the audit trail says who ended it rather than that a viewer vanished. The worker refuses it to
   * an observer (onRefused says so); an observer leaves instead.
   */
  end(): void {
    if (isTerminalViewerState(this.state)) return;
    this.endRequested = true;
    if (!this.signal({ type: "session/end", sessionId: this.options.sessionId })) {
      return this.finish("end", VIEWER_REASONS.endedByYou);
    }
    clearTimeout(this.endTimer);
    this.endTimer = setTimeout(() => this.finish("end", VIEWER_REASONS.endedByYou), this.tuning.endConfirmMs);
  }

  /** Leaves the session on purpose (Leave); it goes on for the others. */
  leave(): void {
    if (isTerminalViewerState(this.state)) return this.teardown();
    this.signal({ type: "participant/leave", sessionId: this.options.sessionId });
    this.finish("end", "left");
  }

  /**
   * The page is going away (closed, reloaded, navigated): close the link without leaving. A reload
   * comes back within the grace period as the same participant; otherwise the worker lets it go.
   */
  disconnect(): void {
    // Said first, so the agent drops this page's peer at once instead of streaming into the void.
    this.signal({ type: "participant/away", sessionId: this.options.sessionId });
    if (!isTerminalViewerState(this.state)) this.move("end", "disconnected");
    this.teardown();
  }

  // ——— The signaling link ———

  private async connect() {
    let ticket: string;
    try {
      ticket = await this.options.getTicket();
    } catch (error) {
      return this.ticketFailed(error);
    }
    if (isTerminalViewerState(this.state)) return;
    const link = new SignalingClient({
      url: this.options.signalUrl,
      ticket,
      peer: this.peerToken,
      createSocket: this.options.createSocket,
      handlers: {
        onWelcome: (welcome) => {
          this.everWelcomed = true;
          this.reconnectAttempt = 0;
          this.participantId = welcome.participantId ?? null;
          this.workerIceServers = welcome.iceServers ?? [];
          // A peer made before a reconnect keeps working; its next ICE restart uses the new credential.
          this.peer?.setIceServers(this.iceServers());
          this.options.events.onSignaling?.("connected");
        },
        onMessage: (message) => this.onSignal(message),
        onClose: ({ code, reason, opened }) => {
          if (this.signaling === link) this.onSignalingClosed(code, reason, opened);
        },
        onInvalid: (error) => console.warn("signaling: dropped an invalid message", error),
      },
    });
    this.signaling = link;
  }

  private ticketFailed(error: unknown) {
    if (isTerminalViewerState(this.state)) return;
    if (error instanceof TicketUnavailable && error.final) {
      return this.finish(
        error.state === "denied" ? "deny" : error.state === "failed" ? "fail" : "end",
        error.reason,
      );
    }
    // The dashboard is restarting or the network is down: ask again soon; the picture carries on.
    if (this.everWelcomed) return this.scheduleReconnect();
    this.finish("fail", VIEWER_REASONS.unreachable);
  }

  private onSignalingClosed(code: number, reason: string, opened: boolean) {
    if (isTerminalViewerState(this.state)) return this.teardown();
    if (this.everWelcomed && RESUMABLE_CLOSES.includes(code)) return this.scheduleReconnect();
    if (!opened && code === CLOSE_ABNORMAL) {
      return this.everWelcomed ? this.scheduleReconnect() : this.finish("fail", VIEWER_REASONS.unreachable);
    }
    const outcome = closeOutcome(code, reason);
    this.finish(outcome.state === "ended" ? "end" : "fail", outcome.reason);
  }

  /** Full jitter, doubling: a restarted worker is not stormed by every viewer at the same moment. */
  private scheduleReconnect() {
    this.signaling = null;
    this.options.events.onSignaling?.("reconnecting");
    const bound = Math.min(
      this.tuning.reconnectMaxMs,
      this.tuning.reconnectFirstMs * 2 ** this.reconnectAttempt++,
    );
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.connect(), bound / 2 + (Math.random() * bound) / 2);
  }

  private signal(message: SignalMessage): boolean {
    return this.signaling?.send(message) ?? false;
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
            return this.finish(
              "end",
              this.endRequested && message.reason === "ended_by_technician"
                ? VIEWER_REASONS.endedByYou
                : message.reason,
            );
          case "denied":
            return this.finish("deny", message.reason);
          case "failed":
            return this.finish("fail", message.reason);
          default:
            return;
        }
      case "session/participants":
        return this.onParticipants(message);
      case "signal/offer":
        if (message.participantId !== this.participantId) return;
        // The offer can overtake the active state when the peers sit on different workers.
        if (this.state === "connecting" || this.state === "awaiting_consent") this.accepted();
        this.offered = true;
        clearTimeout(this.offerTimer);
        return void this.ensurePeer().handleOffer(message.sdp);
      case "signal/ice":
        if (message.participantId !== this.participantId) return;
        return void this.ensurePeer().handleIce(message.candidate);
      case "error":
        console.warn(
          `signaling: the worker refused ${message.ref ?? "a message"} (${message.code}): ${message.message}`,
        );
        if (message.ref === "session/end") {
          clearTimeout(this.endTimer);
          this.endRequested = false;
        }
        if (message.ref?.startsWith("control/") || message.ref === "session/end") {
          this.options.events.onRefused?.(message.message);
        }
        return;
      default:
        return;
    }
  }

  private onParticipants(message: SignalMessageOf<"session/participants">) {
    if (message.version <= this.snapshotVersion || !this.participantId) return;
    this.snapshotVersion = message.version;
    this.participants = {
      me: this.participantId,
      controllerId: message.controllerId,
      participants: message.participants,
    };
    this.options.events.onParticipants?.(this.participants);
    this.expectOffer();
  }

  private accepted() {
    if (!canTransition(this.state, "accept")) return;
    this.move("accept");
    // The media path can be up before the worker's "active" reaches this page (the two travel
    // separately); its "connected" event has then come and gone, so look instead of waiting.
    if (this.peer?.pc.connectionState === "connected") this.move("connect");
    this.expectOffer();
  }

  /** Whether the agent has let this viewer in (someone who joined later may wait for the person). */
  get admitted(): boolean {
    return !!this.participants?.participants.find((p) => p.id === this.participantId)?.admitted;
  }

  /**
   * Once the session is active and this viewer admitted, the agent's offer must come: it starts
   * its encoder first, but not forever. (The wait for the person at the machine is not counted.)
   */
  private expectOffer() {
    if (this.offered || this.offerTimer !== undefined || this.state !== "negotiating" || !this.admitted)
      return;
    this.offerTimer = setTimeout(() => {
      if (!this.offered) this.giveUp(VIEWER_REASONS.noOffer);
    }, this.tuning.offerTimeoutMs);
  }

  private iceServers(): RTCIceServer[] {
    return [...this.workerIceServers, ...this.options.iceServers];
  }

  private ensurePeer(): ViewerPeer {
    if (this.peer) return this.peer;
    const { sessionId, createPeerConnection } = this.options;
    this.peer = new ViewerPeer({
      sessionId,
      participantId: this.participantId!,
      iceServers: this.iceServers(),
      createPeerConnection,
      sendSignal: (message) => this.signal(message),
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
    } else if (channel.label === DATA_CHANNELS.screen && this.options.events.onScreenChannel) {
      this.options.events.onScreenChannel(channel);
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

  /** The viewer cannot go on: it leaves the session (which goes on for anyone else) and shows why. */
  private giveUp(reason: string) {
    if (isTerminalViewerState(this.state)) return;
    this.signal({ type: "participant/leave", sessionId: this.options.sessionId });
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
    if (!this.everWelcomed) this.options.events.onOrphaned?.();
  }

  private teardown() {
    clearTimeout(this.peerFailedTimer);
    clearTimeout(this.offerTimer);
    clearTimeout(this.endTimer);
    clearTimeout(this.reconnectTimer);
    this.peer?.close();
    this.input = null;
    this.control = null;
    this.options.events.onInputReady?.(false);
    const link = this.signaling;
    this.signaling = null;
    link?.close();
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
