/**
 * The recording benchmark's sender, a child process of its own so its CPU is not counted as the
 * recorder's: N agents, each the agent's real AgentPeer (sendonly H.264 track, the agent's RTP
 * packetizer, its control and input channels) fed by the agent's real VideoSources, whose encoder
 * is replaced by a player of a pre-encoded clip at the clip's own pace. A keyframe request (PLI)
 * restarts the player at the clip's first frame, a keyframe, as it restarts ffmpeg in the agent.
 *
 * Usage (by recording.ts, through fork): sender.ts <clip.flv> <workload> <sessions>.
 */
import { createLogger } from "@rd/log";
import { AgentPeer } from "../../../apps/agent/src/peer.ts";
import type { ScreenEncoderEvents } from "../../../apps/agent/src/capture/screen-encoder.ts";
import { VideoSources } from "../../../apps/agent/src/capture/video-sources.ts";
import type { IceCandidateJson } from "../../../packages/recording/src/recorder/recorder-peer.ts";
import { AGENT_FPS, AGENT_MAX_KBPS, type Clip, readClip, type WorkloadName } from "./clips.ts";
import type { RecorderMessage, SenderMessage, SentCounts } from "./messages.ts";

/** Plays a clip as an encoder's output: frame after frame at their times, looping. */
class ClipPlayer {
  private readonly clip: Clip;
  private readonly events: ScreenEncoderEvents;
  private readonly sent: SentCounts;
  private index = 0;
  /** When the next frame is due (performance.now() ms): frames keep the clip's pace, not the timer's. */
  private due = performance.now();
  private timer?: ReturnType<typeof setTimeout>;

  constructor(clip: Clip, events: ScreenEncoderEvents, sent: SentCounts) {
    this.clip = clip;
    this.events = events;
    this.sent = sent;
    sent.encoderStarts++;
    events.onScreen({ width: clip.width, height: clip.height });
    this.timer = setTimeout(this.next, 0);
  }

  private readonly next = () => {
    const { frames, loopFrom, durationMs } = this.clip;
    const frame = frames[this.index]!;
    this.sent.frames++;
    this.sent.bytes += frame.data.length;
    if (frame.keyframe) {
      this.sent.keyframes++;
      this.sent.keyframeBytes += frame.data.length;
    }
    this.events.onFrame({ data: frame.data, keyframe: frame.keyframe });
    const following = frames[this.index + 1];
    // After the last frame, the next pass starts where the clip's time runs out.
    this.due += following ? following.timeMs - frame.timeMs : durationMs - frame.timeMs;
    this.index = following ? this.index + 1 : loopFrom;
    this.timer = setTimeout(this.next, Math.max(0, this.due - performance.now()));
  };

  stop() {
    clearTimeout(this.timer);
  }
}

const [clipFile, workload, count] = process.argv.slice(2);
const clip = readClip(clipFile!, workload as WorkloadName);
const sessions = Number(count);
const send = (message: SenderMessage) => process.send!(message);
const log = createLogger("warn", { bench: "recording-sender" });

interface Agent {
  peer: AgentPeer;
  video: VideoSources;
  sent: SentCounts;
  /** The recorder's candidates wait for its answer (as the agent's signaling orders them). */
  answered: Promise<void>;
  answer(sdp: string): void;
}

const agents: Agent[] = [];
for (let session = 0; session < sessions; session++) {
  const sent: SentCounts = {
    frames: 0,
    bytes: 0,
    keyframes: 0,
    keyframeBytes: 0,
    encoderStarts: 0,
    sourceFrames: 0,
  };
  // H.264 preferred, as the agent's default; the recorder answers it, so only that source plays.
  const video = new VideoSources({
    target: { platform: "linux" },
    codec: "h264",
    fps: AGENT_FPS,
    maxKbps: AGENT_MAX_KBPS,
    log,
    createEncoder: (_kbps, events) => new ClipPlayer(clip, events, sent),
  });
  const peer = new AgentPeer({
    iceServers: [],
    video,
    log: log.child({ session }),
    events: {
      onOffer: (sdp) => send({ type: "offer", session, sdp }),
      onCandidate: (candidate) => send({ type: "candidate", session, candidate }),
      onInput: () => {},
      onControl: () => {},
      onConnected: () => send({ type: "connected", session }),
      onFailed: (reason) => send({ type: "failed", session, reason }),
      // The recorder closes its connection only as the run ends.
      onGone: () => {},
    },
  });
  let answer!: (sdp: string) => void;
  const answered = new Promise<string>((resolve) => (answer = resolve)).then((sdp) => peer.acceptAnswer(sdp));
  agents.push({ peer, video, sent, answered, answer });
}

const fail = (session: number, error: unknown) =>
  send({ type: "failed", session, reason: (error as Error).message ?? String(error) });

process.on("message", (message: RecorderMessage) => {
  switch (message.type) {
    case "answer":
      agents[message.session]!.answer(message.sdp);
      return;
    case "candidate": {
      const agent = agents[message.session]!;
      const candidate: IceCandidateJson | null = message.candidate;
      void agent.answered
        .then(() => agent.peer.addCandidate(candidate))
        .catch((e) => fail(message.session, e));
      return;
    }
    case "cpu":
      send({ type: "cpu", ...process.cpuUsage() });
      return;
    case "stop":
      for (const agent of agents) {
        agent.video.stop();
        agent.sent.sourceFrames = agent.video.all().reduce((n, source) => n + source.frames, 0);
      }
      send({ type: "stopped", sent: agents.map((a) => a.sent) });
      return;
  }
});
// The parent ends this process (SIGTERM) once it has read what was recorded; if the parent dies
// first, the IPC channel closes and so does this.
process.on("disconnect", () => process.exit(0));

agents.forEach((agent, session) => agent.peer.start().catch((error: unknown) => fail(session, error)));
