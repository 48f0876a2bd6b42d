/**
 * What the recording benchmark and its sender child say to each other over the IPC channel: the
 * sender's offers and candidates go up, the recorder's answers and candidates come down, as the
 * signaling worker would carry them. `session` numbers the sender's agents from 0.
 */
import type { IceCandidateJson } from "../../../packages/recording/src/recorder/recorder-peer.ts";

/** What one agent sent: counted as frames leave its VideoSource for the peer. */
export interface SentCounts {
  /** Frames handed to the peer's packetizer. */
  frames: number;
  /** Their bytes (AVC length-prefixed access units): the stream's own size, before RTP. */
  bytes: number;
  keyframes: number;
  keyframeBytes: number;
  /** Encoder (clip) starts: the first, plus one per keyframe request (PLI) the agent obeyed. */
  encoderStarts: number;
  /** The VideoSource's own count of frames sent, to check the one above. */
  sourceFrames: number;
}

export type SenderMessage =
  | { type: "offer"; session: number; sdp: string }
  | { type: "candidate"; session: number; candidate: IceCandidateJson | null }
  | { type: "connected"; session: number }
  | { type: "failed"; session: number; reason: string }
  /** process.cpuUsage() of the sender, µs. */
  | { type: "cpu"; user: number; system: number }
  | { type: "stopped"; sent: SentCounts[] };

export type RecorderMessage =
  | { type: "answer"; session: number; sdp: string }
  | { type: "candidate"; session: number; candidate: IceCandidateJson | null }
  | { type: "cpu" }
  /** Stop every agent's video (the peers stay up until the process ends). */
  | { type: "stop" };
