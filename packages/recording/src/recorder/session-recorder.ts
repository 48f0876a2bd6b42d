/**
 * Records one session: joins it as the recorder participant, connects to the signaling worker with
 * a recorder ticket, answers the agent's offer, and writes what arrives — frames into self-contained
 * fMP4 segments (segmenter.ts), each sealed (segment-crypto.ts), stored, indexed and hashed into the
 * audit chain before the next. It holds the recording through a lease, so another recorder takes
 * over if this one dies, and it ends the recording itself when the session ends, when someone
 * presses Stop, or when the store fails (the session goes on: a recording never stops a session).
 *
 * The recording's clock is wall time since `recordings.started_at`, the clock the audit events are
 * on, so the replay page can put every event at its moment. A silence in the stream (a stall, an
 * agent killed, an encoder restart) stays a silence: the open segment closes at its last frame
 * and the next one records the gap.
 */
import { createHash, randomBytes } from "node:crypto";
import { signTicket } from "@rd/auth/tickets";
import {
  addSegment,
  type Database,
  finishRecording,
  type FinishedState,
  joinAsRecorder,
  type Recording,
  renewRecording,
  setRecordingParticipant,
} from "@rd/db";
import type { Logger } from "@rd/log";
import { CLOSE_CODES, isTerminalSessionState, type SignalMessage } from "@rd/protocol";
import { SignalingClient } from "@rd/protocol/signaling-client";
import type { RTCIceServer } from "werift";
import type { ClosedSegment, RecordedCodec, RecordingStore } from "../contracts.ts";
import { segmentKey } from "../stores/keys.ts";
import { sealSegment } from "../segment-crypto.ts";
import { Segmenter } from "../segmenter.ts";
import { ActivityLog } from "./activity.ts";
import { RecorderPeer } from "./recorder-peer.ts";

export interface SessionRecorderOptions {
  db: Database;
  recording: Recording;
  store: RecordingStore;
  /** The recording's own key, unwrapped. */
  key: Buffer;
  ticketKey: CryptoKey;
  /** The signaling worker's WebSocket URL. */
  signalUrl: string;
  /** This recorder's name in the lease. */
  holder: string;
  iceServers: RTCIceServer[];
  log: Logger;
}

/** How often the lease is renewed (it lapses after RECORDER_LEASE_MS). */
const LEASE_RENEW_MS = 5000;
/** No frame for this long: the open segment is written out, so a killed agent loses nothing. */
const STALL_FLUSH_MS = 2000;
/**
 * Segments close at a keyframe after 3 s, or at this length without one (the agent's keyframes
 * come every 10 s on a quiet screen): a live replay lags and a crash loses at most this much.
 */
export const SEGMENT_MAX_MS = 6000;
/** A lost signaling link is re-opened this many times before the recording is given up. */
const MAX_RECONNECTS = 5;

export class SessionRecorder {
  private readonly options: SessionRecorderOptions;
  private readonly log: Logger;
  private readonly startedAt: number;
  private signaling?: SignalingClient;
  private peer?: RecorderPeer;
  private participantId?: string;
  private segmenter?: Segmenter;
  private codec?: RecordedCodec;
  private readonly activity = new ActivityLog();
  /** Segment writes, one after another: the chain must get them in order. */
  private writes: Promise<void> = Promise.resolve();
  private nextSeq: number;
  private lastFrameMs = -Infinity;
  private awaitKeyframe = false;
  private leaseTimer?: ReturnType<typeof setInterval>;
  private stallTimer?: ReturnType<typeof setInterval>;
  private reconnects = 0;
  private finishing?: Promise<void>;
  private readonly done: Promise<void>;
  private resolveDone!: () => void;

  constructor(options: SessionRecorderOptions) {
    this.options = options;
    this.log = options.log.child({
      recordingId: options.recording.id,
      sessionId: options.recording.sessionId,
    });
    this.startedAt = options.recording.startedAt.getTime();
    // A recording taken over from a dead recorder goes on after its last stored segment.
    this.nextSeq = options.recording.segmentCount + 1;
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** The recording's clock: ms since it started. */
  private now = () => Date.now() - this.startedAt;

  /** Joins and starts; resolves when the recording has ended (for any reason). */
  async run(): Promise<void> {
    const { db, recording } = this.options;
    try {
      const participant = await joinAsRecorder(db, {
        tenantId: recording.tenantId,
        sessionId: recording.sessionId,
        recordingId: recording.id,
        participantId: recording.participantId,
      });
      this.participantId = participant.id;
      await setRecordingParticipant(db, recording.id, participant.id);
    } catch (error) {
      await this.finish("incomplete", `could not join the session: ${(error as Error).message}`);
      return this.done;
    }
    this.leaseTimer = setInterval(() => void this.renew(), LEASE_RENEW_MS);
    this.stallTimer = setInterval(() => this.checkStall(), 500);
    await this.connect();
    return this.done;
  }

  /** Ends the recording from outside (the recorder process stops): what arrived is kept. */
  async stop(reason = "recorder_stopped"): Promise<void> {
    await this.finish("incomplete", reason);
  }

  private async connect() {
    const { recording, ticketKey, signalUrl } = this.options;
    const { ticket } = await signTicket(ticketKey, {
      sid: recording.sessionId,
      tid: recording.tenantId,
      uid: recording.id,
      pid: this.participantId!,
      role: "recorder",
      name: "Recorder",
      email: "",
    });
    // Each link starts its media peer over, so each says a new peer instance (protocol `peerToken`):
    // with the old one, the agent would keep its old peer (a page's blip) and never offer again.
    this.peer?.close();
    this.peer = undefined;
    const client: SignalingClient = new SignalingClient({
      url: signalUrl,
      ticket,
      peer: randomBytes(12).toString("base64url"),
      handlers: {
        onWelcome: () => {
          this.reconnects = 0;
          this.log.info({}, "recorder connected to the session");
        },
        onMessage: (message) => void this.onSignal(client, message),
        onClose: ({ code, reason }) => void this.onSignalingClosed(client, code, reason),
        onInvalid: (error) => this.log.warn({ error }, "invalid signaling message"),
      },
    });
    this.signaling = client;
  }

  private async onSignal(client: SignalingClient, message: SignalMessage) {
    if (this.finishing || client !== this.signaling) return;
    switch (message.type) {
      case "signal/offer": {
        if (message.participantId !== this.participantId) return;
        await this.peer?.close();
        const peer = new RecorderPeer({
          iceServers: this.options.iceServers,
          log: this.log,
          clock: this.now,
          events: {
            onCandidate: (candidate) =>
              client.send({
                type: "signal/ice",
                sessionId: message.sessionId,
                participantId: message.participantId,
                candidate,
              }),
            onFrame: (frame, codec) => this.onFrame(frame, codec),
            onControl: (control) => this.activity.onControl(control, this.now()),
            onGone: (reason) => this.log.info({ reason }, "media path closed"),
          },
        });
        this.peer = peer;
        try {
          const sdp = await peer.acceptOffer(message.sdp);
          client.send({
            type: "signal/answer",
            sessionId: message.sessionId,
            participantId: message.participantId,
            sdp,
          });
        } catch (error) {
          this.log.error({ err: error }, "could not answer the agent's offer");
          await this.finish("failed", (error as Error).message);
        }
        return;
      }
      case "signal/ice":
        if (message.participantId !== this.participantId) return;
        await this.peer
          ?.addCandidate(message.candidate)
          .catch((error: unknown) => this.log.debug({ err: error }, "candidate refused"));
        return;
      case "session/state":
        if (isTerminalSessionState(message.status)) await this.sessionOver(message.reason);
        return;
      default:
        return;
    }
  }

  private async onSignalingClosed(client: SignalingClient, code: number, reason: string) {
    if (this.finishing || client !== this.signaling) return;
    if (code === CLOSE_CODES.sessionEnded) return this.sessionOver(reason);
    if (code === CLOSE_CODES.participantLeft || code === CLOSE_CODES.revoked)
      return this.finish("complete", "recorder_removed");
    if (++this.reconnects > MAX_RECONNECTS)
      return this.finish("incomplete", `signaling lost: ${reason || code}`);
    this.log.warn({ code, reason, attempt: this.reconnects }, "signaling closed; reconnecting");
    await new Promise((resolve) => setTimeout(resolve, 500 * this.reconnects));
    if (!this.finishing)
      await this.connect().catch((error: unknown) => this.log.error({ err: error }, "reconnect failed"));
  }

  /** The session ended: complete if the picture was still arriving, else it was cut off before. */
  private async sessionOver(reason: string | undefined) {
    const flowing = this.now() - this.lastFrameMs < STALL_FLUSH_MS * 2;
    const cutOff = reason === "interrupted" || reason === "agent_offline" || !flowing;
    await this.finish(
      cutOff ? "incomplete" : "complete",
      cutOff ? `stream_lost (${reason ?? "session ended"})` : "session_ended",
    );
  }

  private onFrame(frame: { data: Buffer; keyframe: boolean; timeMs: number }, codec: RecordedCodec) {
    if (this.finishing) return;
    if (!this.segmenter || this.codec !== codec) {
      this.flushSegment();
      this.codec = codec;
      this.segmenter = new Segmenter({ codec, maxMs: SEGMENT_MAX_MS });
    }
    // After a silence the picture must restart on a keyframe: a player cannot decode the delta
    // frames that follow a hole, so they are dropped and the agent is asked for a keyframe.
    if (frame.timeMs - this.lastFrameMs > STALL_FLUSH_MS && this.lastFrameMs > 0) this.awaitKeyframe = true;
    if (this.awaitKeyframe && !frame.keyframe) {
      this.peer?.requestKeyframe();
      return;
    }
    this.awaitKeyframe = false;
    this.lastFrameMs = frame.timeMs;
    this.activity.onFrame(frame.timeMs, frame.data.length);
    try {
      const closed = this.segmenter.push({
        data: frame.data,
        keyframe: frame.keyframe,
        timeMs: frame.timeMs,
      });
      if (closed) this.write(closed);
    } catch (error) {
      // A frame the segmenter cannot read (damaged in transit): dropped, the stream goes on.
      this.log.debug({ err: error }, "dropped an unreadable frame");
    }
  }

  private flushSegment() {
    const closed = this.segmenter?.flush();
    if (closed) this.write(closed);
  }

  /** Silence: write out what is open, so it is safe even if nothing ever comes again. */
  private checkStall() {
    if (this.segmenter && this.now() - this.lastFrameMs > STALL_FLUSH_MS) this.flushSegment();
  }

  private write(segment: ClosedSegment) {
    const seq = this.nextSeq++;
    this.writes = this.writes.then(() => this.store(seq, segment));
  }

  private async store(seq: number, segment: ClosedSegment) {
    if (this.failedStore) return;
    const { db, recording, store, key } = this.options;
    const sha256 = createHash("sha256").update(segment.bytes).digest("hex");
    try {
      await store.put(
        segmentKey(recording.tenantId, recording.id, seq),
        await sealSegment(key, recording.id, seq, segment.bytes),
      );
    } catch (error) {
      this.failedStore = true;
      this.log.error({ err: error, seq }, "the recording store refused a segment; recording stops");
      void this.finish("failed", `store_failed: ${(error as Error).message}`);
      return;
    }
    await addSegment(db, recording, {
      seq,
      startMs: segment.startMs,
      durationMs: segment.durationMs,
      gapBeforeMs: segment.gapBeforeMs,
      bytes: segment.bytes.length,
      sha256,
      keyframe: segment.keyframe,
      activity: this.activity.take(segment.startMs, segment.startMs + segment.durationMs),
      codec: this.codec!,
    });
  }

  private failedStore = false;

  private async renew() {
    const { db, recording, holder } = this.options;
    try {
      const lease = await renewRecording(db, { recordingId: recording.id, holder });
      if (!lease) {
        // Ended by someone else (a sweep after a long stall): stop writing, end nothing.
        this.log.warn({}, "lost the recording's lease; stopping");
        return void this.teardown();
      }
      if (lease.stopRequested) await this.finish("complete", "stopped_by_user");
    } catch (error) {
      this.log.warn({ err: error }, "could not renew the recording's lease");
    }
  }

  private finish(state: FinishedState, reason: string): Promise<void> {
    this.finishing ??= (async () => {
      this.flushSegment();
      await this.writes.catch((error: unknown) => this.log.error({ err: error }, "writing a segment failed"));
      const { db, recording } = this.options;
      await finishRecording(db, {
        recordingId: recording.id,
        state: this.failedStore ? "failed" : state,
        reason,
      }).catch((error: unknown) => this.log.error({ err: error }, "could not end the recording"));
      this.log.info({ state, reason }, "recording ended");
      await this.teardown();
    })();
    return this.finishing;
  }

  private async teardown() {
    clearInterval(this.leaseTimer);
    clearInterval(this.stallTimer);
    const signaling = this.signaling;
    this.signaling = undefined;
    signaling?.close(1000, "recording ended");
    await this.peer?.close();
    this.resolveDone();
  }
}
