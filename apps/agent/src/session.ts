/**
 * One remote session on the agent, from request to end (its states in session-state.ts): applies
 * the consent policy to the technician who opened it and to everyone who joins later, runs one
 * WebRTC peer per admitted viewer from the display's shared encoder of the codec that viewer
 * negotiated (one per codec, shared by every viewer of it), injects input only from the
 * participant who holds control (whatever a viewer's page sends: this is where control is
 * enforced), wires the clipboard through the session's clipboard policy (clipboard-gate.ts), shows
 * who is connected, and undoes everything when the session ends (no key stays pressed, no
 * indicator stays on screen).
 */
import type { Logger } from "@rd/log";
import {
  type ConsentPolicy,
  type ControlMessage,
  DATA_LIMITS,
  isTerminalSessionState,
  type ParticipantView,
  type QualityPreset,
  type SignalMessage,
  type SignalMessageOf,
} from "@rd/protocol";
import type { RTCIceServer } from "werift";
import { RTP_ENCODING_NAME } from "./capture/video-codec.ts";
import type { VideoSource } from "./capture/video-source.ts";
import type { VideoSources } from "./capture/video-sources.ts";
import type { TileStream } from "./capture/tiles/tile-stream.ts";
import type { Clipboard } from "./clipboard.ts";
import { type ClipboardGate, createClipboardGate } from "./clipboard-gate.ts";
import type { ConsentUi, Indicator } from "./consent.ts";
import { createControlHandler } from "./control-handler.ts";
import { InputActivity } from "./input-activity.ts";
import type { InputHandler } from "./input/input-handler.ts";
import { createRateLimitedLog } from "./input/rate-limited-log.ts";
import { AgentPeer } from "./peer.ts";
import {
  type AgentSessionState,
  type AgentSessionTransition,
  canMoveAgentSession,
  nextAgentSessionState,
} from "./session-state.ts";

export interface SessionDeps {
  send(message: SignalMessage): void;
  /** The display's video sources, one per codec; each peer watches the one its viewer negotiated. */
  video: VideoSources;
  /** The display's tiles (capture/tiles/tile-stream.ts), when the agent sends text as tiles. */
  tiles?: TileStream;
  consent: ConsentUi;
  /** A fresh input handler per session, so one session's pressed keys are its own. */
  createInput(): InputHandler;
  clipboard?: Clipboard;
  iceServers: RTCIceServer[];
  consentTimeoutMs: number;
  log: Logger;
  /** Called once, when the session is over for this agent. */
  onClosed(sessionId: string): void;
}

/** Quality presets cap the bitrate below what the receiver's estimate allows. */
const QUALITY_KBPS: Record<QualityPreset, number | undefined> = {
  auto: undefined,
  low: 500,
  balanced: 1500,
  high: 6000,
};
const STATS_INTERVAL_MS = 2000;
/**
 * The clipboard's first read (its baseline) waits until a second after the first viewer's media
 * came up (or 3 s after the session turned active, whichever is first): it spawns xclip, which holds
 * the agent's event loop for tens of milliseconds. Made as the session turned active it fell in the
 * peer's ICE and DTLS; made at media-up, in the first picture's way (bench:media's static desktop:
 * first frame ~506 → ~660 ms). The X server's change reports are on from the start, so a copy made
 * before that read is still news (it used to become the baseline, and was never sent).
 */
const CLIPBOARD_AFTER_MEDIA_MS = 1000;
const CLIPBOARD_AFTER_ACTIVE_MS = 3000;

/** How the person at the machine reads a technician: name, email and workspace. */
export function technicianLabel(t: { name: string; email: string; tenant?: string }): string {
  const who = t.name && t.email ? `${t.name} (${t.email}` : t.name || t.email || "A technician";
  if (!(t.name && t.email)) return t.tenant ? `${who}, ${t.tenant}` : who;
  return `${who}${t.tenant ? `, ${t.tenant}` : ""})`;
}

/** What an encoder did since the last report, `framesBefore` frames ago, for the stats overlay. */
function encoderStats(source: VideoSource, framesBefore: number) {
  return {
    type: "control/stats",
    codec: RTP_ENCODING_NAME[source.codec],
    targetKbps: source.targetKbps,
    fps: Math.round(((source.frames - framesBefore) * 1000) / STATS_INTERVAL_MS),
  } satisfies ControlMessage;
}

interface ViewerPeerEntry {
  peer: AgentPeer;
  /** The viewer page's peer token this peer was made for: a new one (a reload) gets a new peer. */
  token: string;
}

/**
 * A peer made for an admitted viewer whose page is still on its way: its offer (and candidates)
 * wait in `outbox` and go the moment the page connects, instead of being made only then.
 */
interface WaitingPeer {
  peer: AgentPeer;
  /** Sends what waited and lets the peer's messages through from now on. */
  release(): void;
  offerReady: boolean;
}

export class AgentSession {
  readonly id: string;
  private readonly request: SignalMessageOf<"session/request">;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private readonly refusedLog;
  private readonly aborts = new AbortController();
  private state: AgentSessionState = "requested";
  private readonly peers = new Map<string, ViewerPeerEntry>();
  /** Peer tokens of pages that closed their connection (viewerGone): never offered to again. */
  private readonly closedPages = new Set<string>();
  private readonly waiting = new Map<string, WaitingPeer>();
  /** Participants whose admission this agent already decided or is asking about. */
  private readonly answered = new Set<string>();
  private snapshot?: SignalMessageOf<"session/participants">;
  private controller: string | null = null;
  private input?: InputHandler;
  private indicator?: Indicator;
  private stopClipboard?: () => void;
  private clipboardTimer?: ReturnType<typeof setTimeout>;
  private clipboardSoon = false;
  /** Whether the clipboard's baseline may be read yet (see CLIPBOARD_AFTER_MEDIA_MS). */
  private clipboardDue = false;
  /** Lets it be read: sets `clipboardDue` and resolves `clipboardBaseline`, which the watch waits for. */
  private clipboardBaselineDue!: () => void;
  private readonly clipboardBaseline = new Promise<void>((resolve) => {
    this.clipboardBaselineDue = () => {
      this.clipboardDue = true;
      resolve();
    };
  });
  private readonly clipboardGate: ClipboardGate;
  /** Viewers were told copies do not leave this desktop; every copy after that is kept in quietly. */
  private toldNoCopies = false;
  private statsTimer?: ReturnType<typeof setInterval>;
  private activityTimer?: ReturnType<typeof setInterval>;
  /** The controller's clicks and key presses, reported to the recorder once a second. */
  private readonly activity = new InputActivity();

  constructor(request: SignalMessageOf<"session/request">, deps: SessionDeps) {
    this.id = request.sessionId;
    this.request = request;
    this.deps = deps;
    this.log = deps.log.child({ sessionId: request.sessionId });
    this.refusedLog = createRateLimitedLog(this.log);
    // Each decision goes to the worker for the audit trail (size, hash, rule; never the text).
    this.clipboardGate = createClipboardGate(request.clipboardPolicy, (report) =>
      deps.send({ type: "clipboard/event", sessionId: request.sessionId, ...report }),
    );
  }

  /** Open peer connections, one per viewer. */
  get viewerCount(): number {
    return this.peers.size;
  }

  /** Whether the desktop's clipboard is read yet (see CLIPBOARD_AFTER_MEDIA_MS). */
  get watchingClipboard(): boolean {
    return !!this.stopClipboard && this.clipboardDue;
  }

  /** Viewers on their way whose offer is made and waits for their page. */
  get offersWaiting(): number {
    return [...this.waiting.values()].filter((w) => w.offerReady).length;
  }

  /** Applies the policy: ask, or accept at once (notify shows an indicator). */
  async begin(): Promise<void> {
    const policy: ConsentPolicy = this.request.consent;
    this.log.info({ policy, technician: this.request.technician.email }, "session requested");
    if (policy === "prompt") {
      this.move("ask");
      this.deps.send({ type: "session/prompt", sessionId: this.id });
      const answer = await this.deps.consent.ask({
        technician: technicianLabel(this.request.technician),
        asks: "control",
        recording: this.request.recording,
        timeoutMs: this.deps.consentTimeoutMs,
        signal: this.aborts.signal,
      });
      if (this.state === "closed") return;
      this.log.info({ answer }, "consent answered");
      if (answer !== "accepted") {
        this.deps.send({ type: "session/deny", sessionId: this.id, reason: answer });
        return;
      }
    }
    this.move("accept");
    if (policy !== "unattended") {
      this.indicator = this.deps.consent.indicate({
        technicians: [technicianLabel(this.request.technician)],
        onEnd: () => this.end(),
      });
    }
    this.deps.send({ type: "session/accept", sessionId: this.id });
    // The opener's page is connecting meanwhile: its peer and offer are made now, not once the
    // worker says the session is active and the page is there (reconcile() sends them then).
    if (this.request.participantId) this.prepareFor(this.request.participantId);
  }

  /** The worker's view of the session changed. */
  onState(message: SignalMessageOf<"session/state">): void {
    if (this.state === "closed") return;
    if (isTerminalSessionState(message.status)) {
      this.log.info({ status: message.status, reason: message.reason }, "session over");
      void this.close();
      return;
    }
    // "active" again after a signaling reconnect is the worker catching this agent up: no change.
    if (message.status === "active" && canMoveAgentSession(this.state, "activate")) {
      this.move("activate");
      this.startSharing();
      this.reconcile();
    }
  }

  /** Who is in the session and who has control, from the worker. */
  onParticipants(message: SignalMessageOf<"session/participants">): void {
    if (this.state === "closed") return;
    if (this.snapshot && message.version <= this.snapshot.version) return;
    this.snapshot = message;
    this.reconcile();
  }

  /** Negotiation from one viewer. */
  async onSignal(message: SignalMessageOf<"signal/answer"> | SignalMessageOf<"signal/ice">): Promise<void> {
    const entry = this.peers.get(message.participantId);
    if (!entry) return;
    try {
      if (message.type === "signal/answer") await entry.peer.acceptAnswer(message.sdp);
      else await entry.peer.addCandidate(message.candidate);
    } catch (error) {
      this.log.warn({ err: error, type: message.type }, "negotiation message rejected");
    }
  }

  /** Ends the session from this side (the person clicked "End session"). */
  end(): void {
    this.deps.send({ type: "session/end", sessionId: this.id, reason: "ended_by_agent" });
  }

  async close(): Promise<void> {
    if (this.state === "closed") return;
    this.move("close");
    this.aborts.abort();
    clearInterval(this.statsTimer);
    clearInterval(this.activityTimer);
    this.indicator?.stop();
    clearTimeout(this.clipboardTimer);
    this.stopClipboard?.();
    await this.input?.releaseAll().catch((error: unknown) => this.log.warn({ err: error }, "release failed"));
    const all = [...this.peers.values(), ...this.waiting.values()];
    this.peers.clear();
    this.waiting.clear();
    await Promise.all(all.map(({ peer }) => peer.close()));
    this.deps.onClosed(this.id);
  }

  private move(transition: AgentSessionTransition) {
    this.state = nextAgentSessionState(this.state, transition);
  }

  /** Once active: input, clipboard and statistics for whoever gets a peer. */
  private startSharing() {
    this.input = this.deps.createInput();
    this.watchClipboard();
    this.clipboardTimer = setTimeout(() => this.clipboardBaselineDue(), CLIPBOARD_AFTER_ACTIVE_MS);
    const { video } = this.deps;
    // Frame counts per source at the last report; a source made since then has counted from zero.
    let lastFrames = new Map(video.all().map((source) => [source, source.frames]));
    this.statsTimer = setInterval(() => {
      // Each viewer hears about its own encoder: viewers of one session may use different codecs.
      for (const { peer } of this.peers.values()) {
        const source = peer.source;
        if (!source) continue; // No answer yet, so no codec and no encoder to report on.
        peer.sendControl(encoderStats(source, lastFrames.get(source) ?? 0));
      }
      lastFrames = new Map(video.all().map((source) => [source, source.frames]));
    }, STATS_INTERVAL_MS);
    this.activityTimer = setInterval(() => {
      const counts = this.activity.take();
      if (!counts) return;
      for (const p of this.snapshot?.participants ?? []) {
        if (p.kind === "recorder")
          this.peers.get(p.id)?.peer.sendControl({ type: "control/activity", ...counts });
      }
    }, 1000);
  }

  /**
   * Brings peers, admissions, control and the indicator in line with the latest snapshot: a peer
   * for each admitted viewer that is connected (a new one when its page is new), none for those
   * who left, a decision for each who waits to be let in.
   */
  private reconcile() {
    const snapshot = this.snapshot;
    if (!snapshot || this.state !== "active") return;
    const present = new Map(snapshot.participants.map((p) => [p.id, p]));
    for (const participantId of this.peers.keys()) {
      if (!present.has(participantId)) this.closePeer(participantId, "viewer left");
    }
    for (const participantId of this.waiting.keys()) {
      if (!present.get(participantId)?.admitted) this.stopWaiting(participantId);
    }
    for (const p of snapshot.participants) {
      // The dashboard's recorder: never on a machine whose policy is "never", whatever the server says.
      if (p.kind === "recorder" && this.request.recording === "never") {
        this.refusedLog.write(
          "warn",
          "recorder",
          { participantId: p.id },
          "refused a recorder: policy is never",
        );
        continue;
      }
      if (!p.admitted) {
        this.admit(p);
        continue;
      }
      const entry = this.peers.get(p.id);
      // Away with the same page (a signaling blip, a restarted worker): its peer may well still
      // carry the picture. A closed page (no peer token) or a new one: the old peer is of no use.
      if (entry && entry.token !== p.peer) this.closePeer(p.id, "its page closed or was replaced");
      if (p.connected && p.peer && this.peers.get(p.id)?.token !== p.peer && !this.closedPages.has(p.peer))
        this.openPeer(p.id, p.peer);
      // Not connected yet (the session was accepted while its page loads), or its page closed.
      else if (!p.connected && !p.peer && !this.peers.has(p.id)) this.prepareFor(p.id);
    }
    this.setController(snapshot.controllerId);
    const admitted = snapshot.participants.filter((p) => p.admitted);
    this.indicator?.update(
      admitted.filter((p) => p.kind !== "recorder").map((p) => technicianLabel(p)),
      admitted.some((p) => p.kind === "recorder" && p.connected),
    );
  }

  /** Someone joined after the session started: the same policy decides, asking the person if it says so. */
  private admit(p: ParticipantView) {
    if (this.answered.has(p.id)) return;
    this.answered.add(p.id);
    const answer = (reply: "admit" | "denied_by_user" | "consent_timeout") => {
      if (this.state === "closed") return;
      this.deps.send(
        reply === "admit"
          ? { type: "participant/admit", sessionId: this.id, participantId: p.id }
          : { type: "participant/refuse", sessionId: this.id, participantId: p.id, reason: reply },
      );
    };
    if (this.request.consent !== "prompt") return answer("admit");
    void this.deps.consent
      .ask({
        technician: technicianLabel(p),
        asks: "join",
        recording: this.request.recording,
        timeoutMs: this.deps.consentTimeoutMs,
        signal: this.aborts.signal,
      })
      .then((reply) => answer(reply === "accepted" ? "admit" : reply));
  }

  private closePeer(participantId: string, why: string) {
    const entry = this.peers.get(participantId);
    if (!entry) return;
    this.peers.delete(participantId);
    void entry.peer.close();
    this.log.info({ participantId, why, viewers: this.peers.size }, "peer closed");
  }

  /** A viewer's page connected: its waiting peer offers now, or a new one is made. */
  private openPeer(participantId: string, token: string) {
    const previous = this.peers.get(participantId);
    if (previous) void previous.peer.close();
    const waiting = this.waiting.get(participantId);
    this.waiting.delete(participantId);
    const peer = waiting?.peer ?? this.makePeer(participantId).peer;
    this.peers.set(participantId, { peer, token });
    this.log.info(
      { participantId, viewers: this.peers.size, prepared: waiting?.offerReady ?? false },
      "offering to a viewer",
    );
    waiting?.release();
  }

  /** Makes an admitted viewer's peer and offer before its page connects (see WaitingPeer). */
  private prepareFor(participantId: string) {
    if (this.waiting.has(participantId)) return;
    const made = this.makePeer(participantId, true);
    this.waiting.set(participantId, made);
  }

  private stopWaiting(participantId: string) {
    const waiting = this.waiting.get(participantId);
    this.waiting.delete(participantId);
    if (waiting) void waiting.peer.close();
  }

  /** A peer for one viewer, started at once; held, its messages wait for `release`. */
  private makePeer(participantId: string, held = false): WaitingPeer {
    const { video, iceServers } = this.deps;
    let outbox: SignalMessage[] | undefined = held ? [] : undefined;
    const send = (message: SignalMessage) => (outbox ? outbox.push(message) : this.deps.send(message));
    const sessionId = this.id;
    // Called only once the peer's channel is open, so `peer` is set by then.
    const control = createControlHandler({
      clipboard: this.deps.clipboard,
      gate: this.clipboardGate,
      participantId,
      inControl: () => participantId === this.controller,
      reply: (message) => peer.sendControl(message),
      setQuality: (preset) => peer.setQualityCap(QUALITY_KBPS[preset]),
      log: this.log.child({ participantId, channel: "control" }),
    });
    // The recorder stores video: it is never sent tiles.
    const recorder = this.snapshot?.participants.some((p) => p.id === participantId && p.kind === "recorder");
    const peer = new AgentPeer({
      // The worker's servers for this session (a fresh TURN credential) first, then the agent's own.
      iceServers: [...(this.request.iceServers ?? []), ...iceServers],
      video,
      tiles: recorder ? undefined : this.deps.tiles,
      log: this.log.child({ participantId }),
      events: {
        onOffer: (sdp) => send({ type: "signal/offer", sessionId, participantId, sdp }),
        onCandidate: (candidate) => send({ type: "signal/ice", sessionId, participantId, candidate }),
        onInput: (frame) => this.onInput(participantId, frame),
        onControl: (frame) => control.handle(frame),
        onConnected: () => {
          this.log.info({ participantId }, "media connected");
          this.watchClipboardSoon();
        },
        onFailed: (reason) => this.peerFailed(participantId, peer, reason),
        onGone: (reason) => this.viewerGone(participantId, peer, reason),
      },
    });
    const made: WaitingPeer = {
      peer,
      offerReady: false,
      release: () => {
        const waited = outbox ?? [];
        outbox = undefined;
        // The offer first: werift reports the candidates it gathered before the offer is made.
        const offers = waited.filter((message) => message.type === "signal/offer");
        for (const message of [...offers, ...waited.filter((m) => m.type !== "signal/offer")])
          this.deps.send(message);
      },
    };
    peer
      .start()
      .then(() => (made.offerReady = true))
      .catch((error: unknown) => this.peerFailed(participantId, peer, (error as Error).message));
    return made;
  }

  /**
   * The viewer's page closed its connection: its peer goes now, and that page is not offered to
   * again (a snapshot from before its "away" still lists it). A reload is a new page, with a peer.
   */
  private viewerGone(participantId: string, peer: AgentPeer, why: string) {
    const entry = this.peers.get(participantId);
    if (entry?.peer !== peer) return;
    this.closedPages.add(entry.token);
    this.closePeer(participantId, why);
  }

  private peerFailed(participantId: string, peer: AgentPeer, reason: string) {
    if (this.waiting.get(participantId)?.peer === peer) {
      this.log.warn({ participantId, reason }, "a prepared peer failed");
      return this.stopWaiting(participantId);
    }
    if (this.peers.get(participantId)?.peer !== peer) return;
    this.log.warn({ participantId, reason }, "peer failed");
    this.peers.delete(participantId);
    void peer.close();
    // With nobody left to see it, the session could not be set up or carried on.
    if (this.peers.size === 0)
      this.deps.send({ type: "session/end", sessionId: this.id, reason: "negotiation_failed" });
  }

  /**
   * Input reaches the desktop only from the participant who holds control. Anything from another
   * viewer's channel (a page that ignores view-only, a forged or replayed frame) stops here.
   */
  private onInput(participantId: string, frame: string | Buffer) {
    if (participantId !== this.controller || !this.input) {
      this.refusedLog.write(
        "warn",
        "not-controller",
        { participantId },
        "refused input from a viewer without control",
      );
      return;
    }
    const text = typeof frame === "string" ? frame : frame.toString("utf8");
    this.activity.count(text);
    this.input.handle(text);
  }

  private setController(controller: string | null) {
    if (controller === this.controller) return;
    this.log.info({ from: this.controller, to: controller }, "control changed");
    this.controller = controller;
    // Whatever the previous controller held goes up: nobody inherits a pressed key.
    void this.input?.releaseAll().catch((error: unknown) => this.log.warn({ err: error }, "release failed"));
  }

  /** A viewer's media is up: the clipboard is read once its first picture is on its way. */
  private watchClipboardSoon() {
    if (this.clipboardDue || this.clipboardSoon) return;
    this.clipboardSoon = true;
    clearTimeout(this.clipboardTimer);
    this.clipboardTimer = setTimeout(() => this.clipboardBaselineDue(), CLIPBOARD_AFTER_MEDIA_MS);
  }

  /** Once per session, as it turns active; the first read comes later (see CLIPBOARD_AFTER_MEDIA_MS). */
  private watchClipboard() {
    const clipboard = this.deps.clipboard;
    if (!clipboard || this.stopClipboard || this.state === "closed") return;
    this.stopClipboard = clipboard.watch(
      (text) => this.copied(text),
      () =>
        this.notice(
          `The remote clipboard holds more than ${DATA_LIMITS.clipboardChars.toLocaleString("en")} characters; it was not sent.`,
        ),
      undefined,
      this.clipboardBaseline,
    );
  }

  /** The desktop's clipboard changed: the viewers get the text if the policy lets it out. */
  private copied(text: string) {
    const decision = this.clipboardGate.decide("out", text);
    if (decision.allowed) return this.broadcast({ type: "control/clipboard", text });
    // Where copies never leave, every copy on the desktop would say so again: once is enough.
    if (decision.rule === "direction") {
      if (this.toldNoCopies) return;
      this.toldNoCopies = true;
    }
    this.notice(decision.why);
  }

  private broadcast(message: object) {
    for (const { peer } of this.peers.values()) peer.sendControl(message);
  }

  private notice(message: string) {
    this.broadcast({ type: "control/notice", level: "warning", message });
  }
}
