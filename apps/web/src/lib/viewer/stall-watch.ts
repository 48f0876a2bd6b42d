/**
 * Whether the picture still moves: the time of the last frame presented (requestVideoFrameCallback,
 * or a growing frame count where that is missing), and a stall once none came for `stallMs` while
 * the session is live. A hidden tab presents no frames; coming back is not a stall.
 */
export interface StallWatchOptions {
  stallMs: number;
  /** Whether a missing frame counts (the viewer is live). */
  live(): boolean;
  onStalled(stalled: boolean): void;
}

export function watchForStalls(video: HTMLVideoElement, options: StallWatchOptions): () => void {
  let lastFrameAt = performance.now();
  let handle = 0;
  let stopped = false;
  let frameCount = -1;
  const hasFrameCallback = typeof video.requestVideoFrameCallback === "function";
  if (hasFrameCallback) {
    const onFrame = () => {
      lastFrameAt = performance.now();
      if (!stopped) handle = video.requestVideoFrameCallback(onFrame);
    };
    handle = video.requestVideoFrameCallback(onFrame);
  }
  const check = setInterval(() => {
    if (!hasFrameCallback) {
      // Without requestVideoFrameCallback (older Firefox), a growing frame count means frames.
      const frames = video.getVideoPlaybackQuality?.().totalVideoFrames ?? 0;
      if (frames !== frameCount) {
        frameCount = frames;
        lastFrameAt = performance.now();
      }
    }
    options.onStalled(options.live() && performance.now() - lastFrameAt > options.stallMs);
  }, 500);
  const onVisible = () => {
    if (document.visibilityState === "visible") lastFrameAt = performance.now();
  };
  document.addEventListener("visibilitychange", onVisible);
  return () => {
    stopped = true;
    if (hasFrameCallback) video.cancelVideoFrameCallback(handle);
    clearInterval(check);
    document.removeEventListener("visibilitychange", onVisible);
  };
}
