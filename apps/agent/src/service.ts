/**
 * `agent run`: the long-running agent, wired in order (composition root): preflight checks, the
 * display's video sources, input injection, clipboard, consent UI, then the signaling connection
 * that turns session requests into sessions. Writes a small status file for `agent status`.
 */
import { writeFile } from "node:fs/promises";
import path from "node:path";
import type { Logger } from "@rd/log";
import type { SignalMessage } from "@rd/protocol";
import { VideoSources } from "./capture/video-sources.ts";
import { DamageCapture } from "./capture/x11/damage-capture.ts";
import { TileStream } from "./capture/tiles/tile-stream.ts";
import { XScreenReader } from "./capture/x11/x-screen-reader.ts";
import { xAuthorityFor } from "./child-env.ts";
import { createClipboard } from "./clipboard.ts";
import { watchClipboardOwner } from "./clipboard-changes.ts";
import type { AgentConfig } from "./config.ts";
import { createXConsentUi } from "./consent.ts";
import type { Credential } from "./credential.ts";
import { createInputHandler } from "./input/input-handler.ts";
import { createNutInjector } from "./input/injector.ts";
import { preflight } from "./preflight.ts";
import { AgentSession } from "./session.ts";
import { SignalClient } from "./signal-client.ts";
import { warmUpWebRtc } from "./warm-up.ts";

export interface RunningAgent {
  /** Resolves when the agent stops: with 0 on request, 3 when the credential was revoked. */
  done: Promise<number>;
  stop(): Promise<void>;
}

/** The screen size is re-read this often, so input maps right after a resolution change. */
const SCREEN_POLL_MS = 5000;

export async function runAgent(
  config: AgentConfig,
  credential: Credential,
  log: Logger,
): Promise<RunningAgent> {
  const display = await preflight(config);
  const injector = await createNutInjector({ display, log: log.child({ module: "input" }) });
  let screen = await injector.screenSize();
  const screenPoll = setInterval(() => {
    injector
      .screenSize()
      .then((size) => (screen = size))
      .catch((error: unknown) => log.warn({ err: error }, "cannot read the screen size"));
  }, SCREEN_POLL_MS);

  // What changed on the screen, read once for every encoder of the display (x11/damage-capture.ts).
  const capture =
    process.platform === "linux" && config.capture !== "grab"
      ? new DamageCapture({
          fps: config.fps,
          log: log.child({ module: "capture" }),
          open: () => XScreenReader.open(display, xAuthorityFor(display)),
          framebuffer: config.framebuffer,
        })
      : undefined;
  // One encoder per codec a viewer negotiated, the configured codec preferred (video-sources.ts).
  const video = new VideoSources({
    target: { platform: process.platform, display },
    codec: config.codec,
    fps: config.fps,
    maxKbps: config.maxKbps,
    log: log.child({ module: "video" }),
    capture,
    grabWhenBusy: config.capture === "auto",
  });
  // Text-like screens as tiles to browser viewers, video while busy (capture/tiles/tile-stream.ts).
  const tiles =
    capture && config.tiles ? new TileStream({ capture, log: log.child({ module: "tiles" }) }) : undefined;
  // Connected and with an encoder loaded before the first session asks (both idle until then).
  // Choosing how to capture, a session's request needs to know how busy the screen was.
  void (capture?.open() ?? Promise.resolve()).then(() => video.prepare());
  if (config.capture === "auto") void capture?.watchWhileIdle().catch(() => {});
  const clipboard = createClipboard({
    log: log.child({ module: "clipboard" }),
    display,
    // Read once per copy, as the X server reports them, rather than polled for a session's length.
    changes: (onChange, onLost) => watchClipboardOwner(display, xAuthorityFor(display), onChange, onLost),
  });
  const consent = createXConsentUi(display, log.child({ module: "consent" }));
  const sessions = new Map<string, AgentSession>();
  let online = false;
  let lastProblem: string | undefined;

  // Written on every change (online, offline, sessions), which is all `agent status` reports.
  const writeStatus = () =>
    writeFile(
      path.join(config.configDir, "status.json"),
      JSON.stringify({
        pid: process.pid,
        online,
        sessions: [...sessions.keys()],
        viewers: [...sessions.values()].reduce((n, s) => n + s.viewerCount, 0),
        lastProblem,
        updatedAt: new Date().toISOString(),
      }),
      { mode: 0o600 },
    ).catch((error: unknown) => log.debug({ err: error }, "status file not written"));

  let finish!: (code: number) => void;
  const done = new Promise<number>((resolve) => (finish = resolve));

  const client: SignalClient = new SignalClient(
    credential,
    {
      onOnline: () => {
        online = true;
        lastProblem = undefined;
        void writeStatus();
      },
      onOffline: (reason) => {
        online = false;
        lastProblem = `disconnected: ${reason}`;
        // Sessions carry on: their media is peer to peer. The reconnect's hello names them, and the
        // worker either resumes them or says they are over.
        void writeStatus();
      },
      onRevoked: (reason) => {
        lastProblem = `credential refused: ${reason}`;
        log.error(
          { reason },
          "the server refused this agent's credential (removed or re-enrolled?). Enroll again: agent enroll --server URL --code CODE",
        );
        void stop().then(() => finish(3));
      },
      onMessage: (message) => route(message),
    },
    log.child({ module: "signal" }),
    () => [...sessions.keys()],
  );

  function route(message: SignalMessage) {
    switch (message.type) {
      case "session/request": {
        if (sessions.has(message.sessionId)) return;
        // The screen is read while consent and negotiation go on, not after them; where ffmpeg
        // grabs the screen, a session that asks nobody's consent has its encoder started.
        // The first picture is video's either way (tile-stream.ts); tiles decide their mode.
        if (tiles?.usable) void tiles.sessionComing().catch(() => {});
        void video.sessionComing(message.consent !== "prompt").catch(() => {});
        const session = new AgentSession(message, {
          send: (m) => client.send(m),
          video,
          tiles,
          consent,
          clipboard,
          createInput: () =>
            createInputHandler({ injector, log: log.child({ module: "input" }), screen: () => screen }),
          iceServers: config.iceServers,
          consentTimeoutMs: config.consentTimeoutMs,
          log,
          onClosed: (id) => {
            sessions.delete(id);
            void writeStatus();
          },
        });
        sessions.set(message.sessionId, session);
        void writeStatus();
        void session.begin().catch((error: unknown) => {
          log.error({ err: error, sessionId: message.sessionId }, "session failed to start");
          void session.close();
        });
        return;
      }
      case "session/state":
        return sessions.get(message.sessionId)?.onState(message);
      case "session/participants":
        return sessions.get(message.sessionId)?.onParticipants(message);
      case "signal/answer":
      case "signal/ice":
        void sessions.get(message.sessionId)?.onSignal(message);
        return;
      case "error":
        log.warn({ code: message.code, message: message.message }, "the worker refused a message");
        return;
      default:
        log.debug({ type: message.type }, "ignored a message the agent does not handle");
    }
  }

  async function stop() {
    client.stop();
    clearInterval(screenPoll);
    await Promise.all([...sessions.values()].map((s) => s.close()));
    tiles?.close();
    video.stop();
    capture?.close();
    injector.close();
    online = false;
    await writeStatus();
  }

  // Before saying it is online, so that the first viewer meets a compiled WebRTC stack (warm-up.ts).
  await warmUpWebRtc(log.child({ module: "warm-up" }));
  client.start();
  log.info({ agentId: credential.agentId, display, signalUrl: credential.signalUrl }, "agent running");
  return {
    done,
    stop: async () => {
      await stop();
      finish(0);
    },
  };
}
