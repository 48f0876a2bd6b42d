/**
 * A session against a real Xvfb. Its clipboard wiring against the real X clipboard (xclip): the
 * policy in the session's request decides on each copy off the desktop, and each decision goes to
 * the worker as a `clipboard/event`. Its viewers, werift peers answering through a collapsed
 * signaling relay: each is fed, and told about, the codec it negotiated. The video sources and
 * input are real on the same Xvfb; the consent UI is a stand-in an unattended session never asks.
 */
import { createHash } from "node:crypto";
import { createLogger } from "@rd/log";
import type { ClipboardPolicy, ControlMessage, SignalMessage, SignalMessageOf } from "@rd/protocol";
import { RTCPeerConnection as WeriftPeerConnection } from "werift";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import type { VideoCodec } from "./capture/video-codec.ts";
import { VideoSources } from "./capture/video-sources.ts";
import { type Clipboard, createClipboard } from "./clipboard.ts";
import { createInputHandler } from "./input/input-handler.ts";
import { createNutInjector, type Injector } from "./input/injector.ts";
import { AgentSession } from "./session.ts";
import { startDisplay, type TestDisplay } from "./testing/display.ts";
import { BROWSER_CODECS } from "./testing/browser-codecs.ts";

const log = createLogger("silent", { name: "agent", module: "session-test" });
const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

const INTERVIEW: ClipboardPolicy = {
  direction: "in",
  maxBytes: 4096,
  blockedPatterns: { cardNumbers: true, nationalIds: true, custom: [] },
};

let display: TestDisplay;
let injector: Injector;
const sessions: AgentSession[] = [];

beforeAll(async () => {
  display = await startDisplay({ width: 320, height: 240 });
  injector = await createNutInjector({ display: display.display, log });
});
afterEach(async () => {
  await Promise.all(sessions.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  injector?.close();
  await display?.close();
});

/**
 * An unattended session, active, with `clipboardPolicy` in its request; `sent` is what it told the
 * worker, and `onSent` sees each message as it goes.
 */
async function activeSession(
  options: {
    clipboardPolicy?: ClipboardPolicy;
    codec?: VideoCodec;
    /** The opener's participant, as the worker names it in the request. */
    opener?: string;
    beforeBegin?: (sessionId: string) => Promise<void>;
    onSent?: (message: SignalMessage) => void;
  } = {},
) {
  const { clipboardPolicy, codec = "vp8" } = options;
  const sessionId = crypto.randomUUID();
  const sent: SignalMessage[] = [];
  const request: SignalMessageOf<"session/request"> = {
    type: "session/request",
    sessionId,
    technician: { id: crypto.randomUUID(), name: "Ada", email: "ada@example.com", tenant: "Acme" },
    consent: "unattended",
    ...(options.opener ? { participantId: options.opener } : {}),
    ...(clipboardPolicy ? { clipboardPolicy } : {}),
  };
  const video = new VideoSources({
    target: { platform: process.platform, display: display.display },
    codec,
    fps: 5,
    maxKbps: 500,
    log,
  });
  const session = new AgentSession(request, {
    send: (message) => {
      sent.push(message);
      options.onSent?.(message);
    },
    video,
    consent: {
      ask: () => Promise.reject(new Error("an unattended session asks nobody")),
      indicate: () => ({ update: () => {}, stop: () => {} }),
    },
    createInput: () => createInputHandler({ injector, log, screen: () => ({ width: 320, height: 240 }) }),
    clipboard: createClipboard({ log, display: display.display }),
    iceServers: [],
    consentTimeoutMs: 1000,
    log,
    onClosed: () => video.stop(),
  });
  sessions.push(session);
  await options.beforeBegin?.(sessionId);
  await session.begin();
  session.onState({ type: "session/state", sessionId, status: "active" });
  return { session, sessionId, sent, video };
}

describe("a session's clipboard", () => {
  /** Someone at the desktop copying: a clipboard of its own, so the session's watch sees news. */
  let desktop: Clipboard;
  beforeAll(() => {
    desktop = createClipboard({ log, display: display.display });
  });

  async function clipboardSession(clipboardPolicy?: ClipboardPolicy) {
    const { session, sessionId, sent } = await activeSession({
      clipboardPolicy,
      beforeBegin: (id) => desktop.write(`baseline ${id}`),
    });
    // No viewer's media comes up here: the watch starts on its timer.
    expect(session.watchingClipboard).toBe(false);
    await vi.waitFor(() => expect(session.watchingClipboard).toBe(true), { timeout: 5_000 });
    const reports = () =>
      sent.filter((m): m is SignalMessageOf<"clipboard/event"> => m.type === "clipboard/event");
    return { sessionId, sent, reports };
  }

  it("reports each copy its policy decides on, with size and hash but not the text", async () => {
    const { sessionId, reports } = await clipboardSession(INTERVIEW);
    // Let the watch take its baseline before anything is copied.
    await new Promise((r) => setTimeout(r, 700));
    await desktop.write("console.log(42)");
    await vi.waitFor(() => expect(reports()).toHaveLength(1), { timeout: 5_000 });
    expect(reports()).toEqual([
      {
        type: "clipboard/event",
        sessionId,
        flow: "out",
        allowed: false,
        rule: "direction",
        bytes: 15,
        sha256: sha256("console.log(42)"),
      },
    ]);
    expect(JSON.stringify(reports())).not.toContain("console.log");
  });

  it("reports nothing when the agent has no clipboard policy", async () => {
    const { sent } = await clipboardSession(undefined);
    await new Promise((r) => setTimeout(r, 700));
    await desktop.write("anything at all");
    await new Promise((r) => setTimeout(r, 1_200));
    expect(sent.map((m) => m.type)).toEqual(["session/accept"]);
  });
});

describe("a session's viewers", () => {
  const viewers: WeriftPeerConnection[] = [];
  afterEach(async () => {
    await Promise.all(viewers.splice(0).map((pc) => pc.close()));
  });

  /** A werift viewer that decodes `codecs`; `control` collects what the agent says on its control channel. */
  function browser(codecs: VideoCodec[]) {
    const pc = new WeriftPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ["127.0.0.1"],
      codecs: { video: codecs.map((codec) => BROWSER_CODECS[codec]) },
    });
    viewers.push(pc);
    const control: ControlMessage[] = [];
    pc.onDataChannel.subscribe((channel) => {
      if (channel.label !== "control") return;
      channel.onMessage.subscribe((data) => control.push(JSON.parse(data.toString()) as ControlMessage));
    });
    const id: string = crypto.randomUUID();
    return { pc, id, control, work: Promise.resolve() as Promise<unknown> };
  }

  type Viewer = ReturnType<typeof browser>;

  /**
   * The worker's relay, collapsed: offers and candidates go to the viewer they name, in order, and
   * the viewers' answers and candidates back to the session once `attach`ed.
   */
  function collapsedRelay(byId: Map<string, Viewer>) {
    let session: AgentSession | undefined;
    let sessionId = "";
    return {
      onSent(message: SignalMessage) {
        if (message.type !== "signal/offer" && message.type !== "signal/ice") return;
        const viewer = byId.get(message.participantId)!;
        const { pc, id } = viewer;
        viewer.work = viewer.work.then(async () => {
          if (message.type === "signal/ice") {
            if (message.candidate) await pc.addIceCandidate(message.candidate);
            return;
          }
          await pc.setRemoteDescription({ type: "offer", sdp: message.sdp });
          await pc.setLocalDescription(await pc.createAnswer());
          await session!.onSignal({
            type: "signal/answer",
            sessionId,
            participantId: id,
            sdp: pc.localDescription!.sdp,
          });
        });
      },
      attach(to: { session: AgentSession; sessionId: string }) {
        ({ session, sessionId } = to);
        for (const { pc, id } of byId.values()) {
          pc.onIceCandidate.subscribe((candidate) => {
            if (candidate)
              void byId.get(id)!.work.then(() =>
                session!.onSignal({
                  type: "signal/ice",
                  sessionId,
                  participantId: id,
                  candidate: candidate.toJSON(),
                }),
              );
          });
        }
      },
    };
  }

  /** A snapshot of `viewers`, all admitted; `connected` lists the ids whose page is there. */
  function participants(sessionId: string, version: number, viewers: string[], connected = viewers) {
    return {
      type: "session/participants" as const,
      sessionId,
      version,
      controllerId: null,
      participants: viewers.map((id, n) => ({
        id,
        userId: null,
        name: `Viewer ${n}`,
        email: "",
        tenant: "Acme",
        kind: "technician" as const,
        owner: n === 0,
        admitted: true,
        connected: connected.includes(id),
        peer: connected.includes(id) ? `page-${n}-token` : null,
        requestingControl: false,
      })),
    };
  }

  /** An active VP8 session and one viewer (not in it yet), its negotiation relayed. */
  async function oneViewer() {
    const viewer = browser(["vp8"]);
    const byId = new Map([[viewer.id, viewer]]);
    const relay = collapsedRelay(byId);
    const active = await activeSession({ codec: "vp8", onSent: (message) => relay.onSent(message) });
    relay.attach(active);
    return { viewer, byId, ...active };
  }

  const stats = (viewer: Viewer) => viewer.control.filter((m) => m.type === "control/stats");

  it("tells each viewer the codec of its own encoder: VP8 to one without H.264, H.264 to the other", async () => {
    const vp8Only = browser(["vp8"]);
    const both = browser(["h264", "vp8"]);
    const byId = new Map([vp8Only, both].map((b) => [b.id, b]));
    const relay = collapsedRelay(byId);
    const active = await activeSession({ codec: "h264", onSent: (message) => relay.onSent(message) });
    relay.attach(active);
    const { session, sessionId, video } = active;
    session.onParticipants(participants(sessionId, 1, [...byId.keys()]));
    await vi.waitFor(
      () => {
        expect(stats(vp8Only)[0]).toMatchObject({ codec: "VP8", targetKbps: 500 });
        expect(stats(both)[0]).toMatchObject({ codec: "H264", targetKbps: 500 });
      },
      { timeout: 20_000, interval: 200 },
    );
    // One encoder per codec in use, none more.
    expect(
      video
        .all()
        .map((source) => source.codec)
        .sort(),
    ).toEqual(["h264", "vp8"]);
  }, 30_000);

  it("makes a viewer's offer while its page is on its way, and sends it the moment the page connects", async () => {
    const { viewer, session, sessionId, sent } = await oneViewer();
    const negotiation = () => sent.filter((m) => m.type.startsWith("signal/"));
    // Accepted, admitted, but its page has not connected yet.
    session.onParticipants(participants(sessionId, 1, [viewer.id], []));
    await vi.waitFor(() => expect(session.offersWaiting).toBe(1), { timeout: 10_000 });
    expect(negotiation()).toEqual([]);
    expect(session.viewerCount).toBe(0);
    // The page connects: the offer goes out within this very call, first, made already.
    session.onParticipants(participants(sessionId, 2, [viewer.id]));
    expect(negotiation()[0]).toMatchObject({ type: "signal/offer", participantId: viewer.id });
    expect(session.offersWaiting).toBe(0);
    expect(session.viewerCount).toBe(1);
    await vi.waitFor(() => expect(stats(viewer)[0]).toMatchObject({ codec: "VP8" }), {
      timeout: 20_000,
      interval: 200,
    });
  }, 30_000);

  it("makes the opener's offer as it accepts, before the worker says who is in the session", async () => {
    const viewer = browser(["vp8"]);
    const relay = collapsedRelay(new Map([[viewer.id, viewer]]));
    const active = await activeSession({
      codec: "vp8",
      opener: viewer.id,
      onSent: (message) => relay.onSent(message),
    });
    relay.attach(active);
    const { session, sessionId, sent } = active;
    await vi.waitFor(() => expect(session.offersWaiting).toBe(1), { timeout: 10_000 });
    expect(sent.filter((m) => m.type.startsWith("signal/"))).toEqual([]);
    // The first snapshot already has the opener's page: the offer made meanwhile goes out at once.
    session.onParticipants(participants(sessionId, 1, [viewer.id]));
    expect(sent.find((m) => m.type.startsWith("signal/"))).toMatchObject({
      type: "signal/offer",
      participantId: viewer.id,
    });
    await vi.waitFor(() => expect(stats(viewer)[0]).toMatchObject({ codec: "VP8" }), {
      timeout: 20_000,
      interval: 200,
    });
  }, 30_000);

  it("lets a prepared peer go when its viewer leaves before connecting", async () => {
    const viewer = browser(["vp8"]);
    const { session, sessionId, sent } = await activeSession({ codec: "vp8" });
    session.onParticipants(participants(sessionId, 1, [viewer.id], []));
    await vi.waitFor(() => expect(session.offersWaiting).toBe(1), { timeout: 10_000 });
    session.onParticipants(participants(sessionId, 2, []));
    expect(session.offersWaiting).toBe(0);
    expect(sent.filter((m) => m.type.startsWith("signal/"))).toEqual([]);
  });

  it("drops the peer of a page that closed its connection, offers that page nothing more, and a reload a new one", async () => {
    const { viewer, byId, session, sessionId, sent } = await oneViewer();
    const offers = () => sent.filter((m) => m.type === "signal/offer").length;
    session.onParticipants(participants(sessionId, 1, [viewer.id]));
    await vi.waitFor(() => expect(stats(viewer)[0]).toMatchObject({ codec: "VP8" }), {
      timeout: 20_000,
      interval: 200,
    });
    // The page goes; its "away" has not reached the worker, whose snapshots still list it.
    await viewer.pc.close();
    await vi.waitFor(() => expect(session.viewerCount).toBe(0), { timeout: 10_000 });
    session.onParticipants(participants(sessionId, 2, [viewer.id]));
    expect(session.viewerCount).toBe(0);
    expect(offers()).toBe(1);
    // The same participant on a new page (a reload): a new peer and offer.
    byId.set(viewer.id, { ...browser(["vp8"]), id: viewer.id });
    const reloaded = participants(sessionId, 3, [viewer.id]);
    reloaded.participants[0]!.peer = "page-reloaded-token";
    session.onParticipants(reloaded);
    expect(session.viewerCount).toBe(1);
    await vi.waitFor(() => expect(offers()).toBe(2), { timeout: 10_000 });
  }, 30_000);
});
