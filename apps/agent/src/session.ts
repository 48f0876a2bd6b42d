/**
 * One remote session on the agent, from request to end: applies the consent policy, starts the
 * WebRTC peer once the worker says the session is active, wires the data channels to input
 * injection and the clipboard, and undoes everything when the session ends (no key stays pressed,
 * no indicator stays on screen).
 */
import type { Logger } from "@rd/log";
import {
  type ConsentPolicy,
  DATA_LIMITS,
  isTerminalSessionState,
  parseControlMessage,
  type QualityPreset,
  type SignalMessage,
  type SignalMessageOf,
} from "@rd/protocol";
import { RTP_ENCODING_NAME } from "./capture/video-codec.ts";
import type { VideoSource } from "./capture/video-source.ts";
import type { Clipboard } from "./clipboard.ts";
import type { ConsentUi } from "./consent.ts";
import type { InputHandler } from "./input/input-handler.ts";
import { AgentPeer } from "./peer.ts";
import type { RTCIceServer } from "werift";

export interface SessionDeps {
  send(message: SignalMessage): void;
  video: VideoSource;
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

export class AgentSession {
  readonly id: string;
  private readonly request: SignalMessageOf<"session/request">;
  private readonly deps: SessionDeps;
  private readonly log: Logger;
  private readonly consentAbort = new AbortController();
  private peer?: AgentPeer;
  private input?: InputHandler;
  private stopIndicator?: () => void;
  private stopClipboard?: () => void;
  private statsTimer?: ReturnType<typeof setInterval>;
  private closed = false;

  constructor(request: SignalMessageOf<"session/request">, deps: SessionDeps) {
    this.id = request.sessionId;
    this.request = request;
    this.deps = deps;
    this.log = deps.log.child({ sessionId: request.sessionId });
  }

  get technicianLabel() {
    const { name, email } = this.request.technician;
    return name && email ? `${name} (${email})` : name || email || "A technician";
  }

  /** Applies the policy: ask, or accept at once (notify shows an indicator). */
  async begin(): Promise<void> {
    const policy: ConsentPolicy = this.request.consent;
    this.log.info({ policy, technician: this.request.technician.email }, "session requested");
    if (policy !== "prompt") {
      this.accept(policy === "notify");
      return;
    }
    this.deps.send({ type: "session/prompt", sessionId: this.id });
    const answer = await this.deps.consent.ask({
      technician: this.technicianLabel,
      timeoutMs: this.deps.consentTimeoutMs,
      signal: this.consentAbort.signal,
    });
    if (this.closed) return;
    this.log.info({ answer }, "consent answered");
    if (answer === "accepted") this.accept(true);
    else this.deps.send({ type: "session/deny", sessionId: this.id, reason: answer });
  }

  /** The worker's view of the session changed. */
  onState(message: SignalMessageOf<"session/state">): void {
    if (this.closed) return;
    if (message.status === "active" && !this.peer) void this.startPeer();
    if (isTerminalSessionState(message.status)) {
      this.log.info({ status: message.status, reason: message.reason }, "session over");
      void this.close();
    }
  }

  /** Negotiation from the viewer. */
  async onSignal(message: SignalMessageOf<"signal/answer"> | SignalMessageOf<"signal/ice">): Promise<void> {
    if (!this.peer) return;
    try {
      if (message.type === "signal/answer") await this.peer.acceptAnswer(message.sdp);
      else await this.peer.addCandidate(message.candidate);
    } catch (error) {
      this.log.warn({ err: error, type: message.type }, "negotiation message rejected");
    }
  }

  /** Ends the session from this side (the person clicked "End session"). */
  end(): void {
    this.deps.send({ type: "session/end", sessionId: this.id, reason: "ended_by_agent" });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.consentAbort.abort();
    clearInterval(this.statsTimer);
    this.stopIndicator?.();
    this.stopClipboard?.();
    await this.input?.releaseAll().catch((error: unknown) => this.log.warn({ err: error }, "release failed"));
    await this.peer?.close();
    this.deps.onClosed(this.id);
  }

  private accept(showIndicator: boolean) {
    if (showIndicator) {
      this.stopIndicator = this.deps.consent.indicate({
        technician: this.technicianLabel,
        onEnd: () => this.end(),
      });
    }
    this.deps.send({ type: "session/accept", sessionId: this.id });
  }

  private async startPeer() {
    const { video, iceServers, send } = this.deps;
    const sessionId = this.id;
    this.input = this.deps.createInput();
    const input = this.input;
    this.peer = new AgentPeer({
      iceServers,
      video,
      log: this.log,
      events: {
        onOffer: (sdp) => send({ type: "signal/offer", sessionId, sdp }),
        onCandidate: (candidate) => send({ type: "signal/ice", sessionId, candidate }),
        onInput: (frame) => input.handle(typeof frame === "string" ? frame : frame.toString("utf8")),
        onControl: (frame) => this.onControl(frame),
        onConnected: () => this.log.info({}, "media connected"),
        onFailed: (reason) => {
          this.log.warn({ reason }, "peer failed");
          send({ type: "session/end", sessionId, reason: "negotiation_failed" });
        },
      },
    });
    this.watchClipboard();
    let lastFrames = video.frames;
    this.statsTimer = setInterval(() => {
      const frames = video.frames;
      this.peer?.sendControl({
        type: "control/stats",
        codec: RTP_ENCODING_NAME[video.codec],
        targetKbps: video.targetKbps,
        fps: Math.round(((frames - lastFrames) * 1000) / STATS_INTERVAL_MS),
      });
      lastFrames = frames;
    }, STATS_INTERVAL_MS);
    try {
      await this.peer.start();
    } catch (error) {
      this.log.error({ err: error }, "could not create the offer");
      send({ type: "session/end", sessionId, reason: "negotiation_failed" });
    }
  }

  private onControl(frame: string | Buffer) {
    const parsed = parseControlMessage(typeof frame === "string" ? frame : frame.toString("utf8"));
    if (!parsed.ok) return this.log.debug({ error: parsed.error }, "dropped an invalid control message");
    const message = parsed.message;
    if (message.type === "control/clipboard") {
      void this.deps.clipboard
        ?.write(message.text)
        .catch((error: unknown) =>
          this.notice(`Could not set the remote clipboard: ${(error as Error).message}`),
        );
    } else if (message.type === "control/quality") {
      this.peer?.setQualityCap(QUALITY_KBPS[message.preset]);
    }
  }

  private watchClipboard() {
    const clipboard = this.deps.clipboard;
    if (!clipboard) return;
    this.stopClipboard = clipboard.watch(
      (text) => this.peer?.sendControl({ type: "control/clipboard", text }),
      () =>
        this.notice(
          `The remote clipboard holds more than ${DATA_LIMITS.clipboardChars.toLocaleString("en")} characters; it was not sent.`,
        ),
    );
  }

  private notice(message: string) {
    this.peer?.sendControl({ type: "control/notice", level: "warning", message });
  }
}
