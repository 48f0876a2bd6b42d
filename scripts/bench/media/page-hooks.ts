/**
 * What the media benchmark runs inside the browser page, for both viewers alike. Installed with
 * `page.addInitScript`, so it must be self-contained (Playwright sends the function's source).
 *
 * Input-to-photon is measured from the keydown event's timestamp (the browser delivering the key to
 * the page) to the rendering step that first shows the remote probe window flipped: for the
 * WebRTC viewer that is the `requestVideoFrameCallback` of the first decoded frame showing it; for
 * noVNC, the animation frame after the canvas draw that shows it (noVNC.html reports its draws).
 */

/** Page-side state, read by the benchmark with `page.evaluate`. */
export interface BenchState {
  /** Wall-clock ms of the first frame shown, for "Connect → first frame". */
  firstFrameAt: number;
  /**
   * Wall-clock ms of the last pointer press the page received: where a person's Connect starts.
   * (Playwright's click() returns later: it first waits for the button to hold still over two
   * animation frames, which no person's click waits for.)
   */
  pressedAt: number;
  /** Canvas draws (noVNC) — the WebRTC viewer's frames come from getStats instead. */
  draws: number;
  /** Pictures our viewer showed while tiles carried them (its data-picture="tiles"). */
  tileFrames: number;
  /** Peer connections the page created (the viewer's, for getStats). */
  pcs: RTCPeerConnection[];
  /** A pending measurement: which pixel to watch and which way it should flip. */
  armed: { x: number; y: number; wantLight: boolean; keyAt: number } | null;
  /** Measured input-to-photon latencies, ms. */
  latencies: number[];
  /** Wall-clock ms of each measured key press, to line a slow one up with the agent's log. */
  latencyKeysAt: number[];
  /**
   * The remote screen's width, for reading a picture the agent scaled down (a narrow link's
   * quality ladder); 0: the picture is the screen's size.
   */
  screenWidth: number;
  /** Reads a pixel's luma (0-255) of the picture shown last, at remote screen coordinates. */
  luma(x: number, y: number): number;
  /** Called by a viewer when a new picture is on screen; `luma` reads a pixel of it. */
  shown(now: number, luma: (x: number, y: number) => number): void;
  /**
   * While an array: the `performance.now()` time of every picture shown (for the WebRTC viewer,
   * each `requestVideoFrameCallback`), for frame gaps. null (the start) records nothing; the
   * benchmark sets it to [] to start and reads it back.
   */
  frameTimes: number[] | null;
  /**
   * Wall-clock ms of each step on the way to the first frame (socket open, offer, answer, ICE,
   * DTLS…), in order, for the breakdown of Connect → first frame. Steps before Connect stay in the
   * list; the benchmark reads those after its click.
   */
  marks: { step: string; at: number }[];
  /** Set by installRelayPolicy: whether the viewer's ICE servers were the bench's own. */
  relay?: { injected: boolean; urls: string[] };
}

declare global {
  interface Window {
    __bench: BenchState;
  }
}

export function installBenchHooks() {
  const bench: BenchState = {
    firstFrameAt: 0,
    pressedAt: 0,
    draws: 0,
    tileFrames: 0,
    pcs: [],
    armed: null,
    latencies: [],
    latencyKeysAt: [],
    screenWidth: 0,
    luma: () => 0,
    frameTimes: null,
    marks: [],
    shown(now, luma) {
      bench.luma = luma;
      bench.frameTimes?.push(now);
      if (!bench.firstFrameAt) {
        bench.firstFrameAt = performance.timeOrigin + now;
        bench.marks.push({ step: "first frame", at: bench.firstFrameAt });
      }
      const armed = bench.armed;
      if (!armed || !armed.keyAt) return;
      if (luma(armed.x, armed.y) > 128 === armed.wantLight) {
        bench.latencies.push(now - armed.keyAt);
        bench.latencyKeysAt.push(performance.timeOrigin + armed.keyAt);
        bench.armed = null;
      }
    },
  };
  window.__bench = bench;

  addEventListener(
    "pointerdown",
    (event) => {
      bench.pressedAt = performance.timeOrigin + event.timeStamp;
    },
    true,
  );
  addEventListener(
    "keydown",
    (event) => {
      if (bench.armed && !bench.armed.keyAt) bench.armed.keyAt = event.timeStamp;
    },
    true,
  );

  const mark = (step: string) => bench.marks.push({ step, at: Date.now() });

  // The dashboard's requests on the way: creating the session (tRPC) and the live page's data.
  const nativeFetch = window.fetch;
  window.fetch = async (input, init) => {
    const response = await nativeFetch(input, init);
    const url = new URL(input instanceof Request ? input.url : String(input), location.href);
    if (url.pathname.startsWith("/api/trpc/")) mark(`${url.pathname.slice(10)} answered`);
    else if (url.pathname.endsWith("__data.json")) mark("page data loaded");
    return response;
  };

  // The signaling socket: when it opens and when its first message (the welcome) arrives. A plain
  // function handing back the native socket, not a subclass: noVNC checks the socket's prototype.
  const NativeWebSocket = window.WebSocket;
  const MarkedWebSocket = function (url: string | URL, protocols?: string | string[]) {
    const socket = new NativeWebSocket(url, protocols);
    mark("socket created");
    socket.addEventListener("open", () => mark("socket open"), { once: true });
    socket.addEventListener("message", () => mark("first message"), { once: true });
    // The first frame out is the hello (ours) or the RFB version (noVNC).
    const send = socket.send.bind(socket);
    socket.send = (data) => {
      socket.send = send;
      mark("first sent");
      send(data);
    };
    return socket;
  } as unknown as typeof WebSocket;
  Object.setPrototypeOf(MarkedWebSocket, NativeWebSocket);
  MarkedWebSocket.prototype = NativeWebSocket.prototype;
  window.WebSocket = MarkedWebSocket;

  // The WebRTC viewer's connection, for getStats (the page has no debug flag when Connect opens it),
  // and its steps: offer applied, answer made, ICE and DTLS up, track.
  const NativePeerConnection = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends NativePeerConnection {
    constructor(config?: RTCConfiguration) {
      super(config);
      bench.pcs.push(this);
      mark("peer created");
      this.addEventListener("iceconnectionstatechange", () => mark(`ICE ${this.iceConnectionState}`));
      this.addEventListener("connectionstatechange", () => mark(`peer ${this.connectionState}`));
      this.addEventListener("track", () => mark("track"));
    }
    override async setRemoteDescription(description: RTCSessionDescriptionInit) {
      mark(`${description.type} received`);
      await super.setRemoteDescription(description);
    }
    override async setLocalDescription(description?: RTCLocalSessionDescriptionInit) {
      await super.setLocalDescription(description);
      mark(`${this.localDescription?.type ?? "description"} made`);
    }
  };

  // The WebRTC viewer's video element, watched from the moment it is added to the page.
  const probe = document.createElement("canvas");
  probe.width = probe.height = 1;
  const probeContext = probe.getContext("2d", { willReadFrequently: true })!;
  const watched = new WeakSet<HTMLVideoElement>();
  const watch = (video: HTMLVideoElement) => {
    if (watched.has(video)) return;
    watched.add(video);
    const luma = (x: number, y: number) => {
      const scale = bench.screenWidth && video.videoWidth ? video.videoWidth / bench.screenWidth : 1;
      probeContext.drawImage(video, Math.floor(x * scale), Math.floor(y * scale), 1, 1, 0, 0, 1, 1);
      const [r, g, b] = probeContext.getImageData(0, 0, 1, 1).data;
      return 0.299 * r! + 0.587 * g! + 0.114 * b!;
    };
    const onFrame = (now: number, frame: VideoFrameCallbackMetadata) => {
      // The first picture's way in: its last packet received, then decoded (the browser's times).
      if (!bench.firstFrameAt && frame.receiveTime !== undefined) {
        const receivedAt = performance.timeOrigin + frame.receiveTime;
        bench.marks.push({ step: "first picture received", at: receivedAt });
        if (frame.processingDuration !== undefined)
          bench.marks.push({
            step: "first picture decoded",
            at: receivedAt + frame.processingDuration * 1000,
          });
      }
      if (video.closest("[data-picture]")?.getAttribute("data-picture") === "tiles") bench.tileFrames++;
      bench.shown(now, luma);
      video.requestVideoFrameCallback(onFrame);
    };
    video.requestVideoFrameCallback(onFrame);
  };
  new MutationObserver(() => {
    const video = document.querySelector<HTMLVideoElement>('[data-testid="remote-video"]');
    if (video && !watched.has(video)) mark("live page shown");
    if (video) watch(video);
  }).observe(document, { childList: true, subtree: true });
}

/**
 * Forces every peer connection of the page through TURN (`iceTransportPolicy: "relay"`), for the
 * impaired runs. Whenever the page configures no TURN server of its own (the dashboard hands out
 * none unless its signaling worker is configured for TURN), `servers` are used instead; the
 * viewer's later setConfiguration (the worker's servers arriving) is held to the same rules.
 * Install it after installBenchHooks: it wraps that one's RTCPeerConnection, which records the
 * connection. Self-contained, like installBenchHooks.
 */
export function installRelayPolicy(servers: RTCIceServer[]) {
  const relayed = (config: RTCConfiguration = {}): RTCConfiguration => {
    const urlsOf = (list: RTCIceServer[] = []) =>
      list.flatMap((s) => (Array.isArray(s.urls) ? s.urls : [s.urls]));
    const own = urlsOf(config.iceServers).some((url) => /^turns?:/.test(url));
    const iceServers = own ? config.iceServers : servers;
    if (window.__bench) window.__bench.relay = { injected: !own, urls: urlsOf(iceServers) };
    return { ...config, iceServers, iceTransportPolicy: "relay" };
  };
  const Wrapped = window.RTCPeerConnection;
  window.RTCPeerConnection = class extends Wrapped {
    constructor(config?: RTCConfiguration) {
      super(relayed(config));
    }
    override setConfiguration(config?: RTCConfiguration) {
      super.setConfiguration(relayed(config));
    }
  };
}
