/**
 * One viewer's side of the tiles (tile-stream.ts): whether its picture comes as tiles on its
 * `screen` channel or as video on its track, and the hand-over between them without a gap.
 *
 * - The first picture is video's. The channel opens while the display is in tiles: the viewer
 *   joins the stream (the whole picture first) and its video stops once its first frame is on its
 *   way, or after FIRST_VIDEO_MS (the viewer shows whichever picture comes first, and the tiles'
 *   from then on).
 * - The display turns to video: the video starts; the tiles carry on until the first video frame is
 *   on its way, and then the `video` message says the track has the picture from now.
 * - The display turns back to tiles: the viewer joins again, and its video stops once the tiles'
 *   whole picture has left the channel (as it does at the start, when the video's first frame
 *   went out before the channel opened).
 * - The channel closes (the viewer could not use it) or never opens: video, as without tiles.
 *
 * A lossy or narrow link stays on tiles: the stream sends a viewer that fell behind one update of
 * all it missed once its channel drained (tile-stream.ts), and SCTP repairs loss, with a timeout
 * shortened for it (sctp-timeout.ts). Video used to take over at the first lost packet: bench:media's
 * drop to 0.5 Mbit/s then started an encoder at 4 Mbit/s into the full link and froze 5-7 s, where
 * the tiles, coalescing, froze ~0.2 s.
 */
import { SCREEN_MESSAGES } from "@rd/protocol";
import type { Logger } from "@rd/log";
import type { RTCDataChannel } from "werift";
import type { ScreenMode, TileStream, TileViewer } from "./tile-stream.ts";

/** The peer's video for this viewer, switched on and off. */
export interface ViewerVideo {
  watch(): void;
  unwatch(): void;
}

export interface TileFeedOptions {
  channel: RTCDataChannel;
  stream: TileStream;
  video: ViewerVideo;
  log: Logger;
}

/** After the media path is up, the screen channel has this long to open before the viewer gets video. */
const CHANNEL_OPEN_MS = 3000;

/** How long after its screen channel closed a peer still open turns to video. */
const CLOSED_GRACE_MS = 1000;
/**
 * How long the video keeps going after the viewer joined the tiles, for its first frame. The
 * channel opens a round trip after the media path; an encoder not primed yet had no frame by then,
 * and, stopped at once, never sent one: a static desktop's first picture then waited for the
 * tiles' whole one (~150 KB to deflate, send and inflate), 520-710 ms after Connect against ~310.
 * The viewer takes video's packets as a hand-over only from a second after the tiles took over
 * (RemoteViewer.svelte).
 */
const FIRST_VIDEO_MS = 500;
/**
 * Once the video has shown the picture, it stops only when the tiles' whole picture has left the
 * channel (or after WHOLE_OUT_MAX_MS): stopped at the join, the viewer looked at the video's last
 * frame until that picture arrived, ~100 KB through SCTP's slow start, 1.6 s on a relayed link
 * with an 80 ms round trip (bench:media). Video packets that arrive after the tiles took over are
 * no hand-over, within a second (RemoteViewer.svelte). A video that loses packets meanwhile stops
 * at once (videoTrouble()).
 */
const WHOLE_OUT_CHECK_MS = 20;
const WHOLE_OUT_MAX_MS = 3000;

/** Where this viewer's picture comes from. */
type FeedState = "waiting" | "tiles" | "handing-to-video" | "video";

export class TileFeed {
  private readonly options: TileFeedOptions;
  private state: FeedState = "waiting";
  private leaveStream?: () => void;
  private readonly stopListening: () => void;
  private openTimer?: ReturnType<typeof setTimeout>;
  private closeTimer?: ReturnType<typeof setTimeout>;
  /** Set while the video waits for its first frame after the viewer joined the tiles. */
  private firstVideoTimer?: ReturnType<typeof setTimeout>;
  /** Set while the video waits for the tiles' whole picture to leave the channel. */
  private wholeOutTimer?: ReturnType<typeof setInterval>;
  /** The last part of a whole picture was handed to the channel since the viewer joined. */
  private wholeSent = false;
  /** A video frame went to this viewer. */
  private videoSent = false;
  private closed = false;

  constructor(options: TileFeedOptions) {
    this.options = options;
    const { channel, stream } = options;
    this.stopListening = stream.onMode((mode) => this.modeChanged(mode));
    channel.stateChanged.subscribe((state) => {
      if (state === "open") this.opened();
      // A page that closes closes this channel first: only a peer still there after a moment
      // needs video (one that could not read the tiles).
      else if (state === "closed")
        this.closeTimer = setTimeout(
          () => this.lost("the viewer closed its screen channel"),
          CLOSED_GRACE_MS,
        );
    });
  }

  /** The media path is up: a channel that has not opened by CHANNEL_OPEN_MS will not (video then). */
  mediaUp(): void {
    if (this.state !== "waiting") return;
    clearTimeout(this.openTimer);
    this.openTimer = setTimeout(() => {
      if (this.state === "waiting") this.lost("the screen channel did not open");
    }, CHANNEL_OPEN_MS);
  }

  /**
   * A video frame is about to go to the viewer: the hand-over to video completes here, and the
   * video waiting for its first frame after the viewer joined the tiles stops after this one.
   */
  videoFrame(): void {
    this.videoSent = true;
    if (this.firstVideoTimer !== undefined) this.stopVideo();
    if (this.state !== "handing-to-video") return;
    this.send(Buffer.from([SCREEN_MESSAGES.video]));
    this.leave();
    this.state = "video";
  }

  /**
   * The viewer reported video packets it never got: the link is short of room. A video kept for the
   * hand-over to tiles stops now, and leaves the link to them: kept up to its limit behind a
   * 1 Mbit/s cap, the video's start at 4 Mbit/s held the tiles' whole picture back, and the picture
   * froze 1.4 s (bench:media).
   */
  videoTrouble(): void {
    if (this.wholeOutTimer !== undefined) this.stopVideo();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.openTimer);
    clearTimeout(this.closeTimer);
    this.cancelStopVideo();
    this.stopListening();
    this.leave();
  }

  private opened() {
    clearTimeout(this.openTimer);
    if (this.closed || this.state !== "waiting") return;
    if (this.options.stream.mode === "tiles" && this.options.stream.usable) this.join();
    else this.toVideo();
  }

  private modeChanged(mode: ScreenMode) {
    if (this.closed || this.options.channel.readyState !== "open") return;
    if (mode === "video" && this.state === "tiles") this.handToVideo();
    else if (mode === "tiles" && (this.state === "video" || this.state === "handing-to-video")) this.join();
  }

  /** Video starts; the tiles carry on until its first frame is on its way (videoFrame()). */
  private handToVideo() {
    this.cancelStopVideo();
    this.state = "handing-to-video";
    this.options.video.watch();
  }

  private join() {
    const channel = this.options.channel;
    const viewer: TileViewer = {
      send: (message) => this.send(message),
      get buffered() {
        return channel.bufferedAmount;
      },
    };
    this.wholeSent = false;
    this.leaveStream ??= this.options.stream.subscribe(viewer);
    this.state = "tiles";
    if (this.videoSent) this.stopVideoOnceWholeOut();
    else this.firstVideoTimer ??= setTimeout(() => this.stopVideo(), FIRST_VIDEO_MS);
    this.options.log.debug({}, "screen as tiles");
  }

  /** The video's first frame is out, or waited for long enough: the tiles alone from now. */
  private stopVideo() {
    this.cancelStopVideo();
    if (this.state === "tiles") this.options.video.unwatch();
  }

  private stopVideoOnceWholeOut() {
    let waited = 0;
    this.wholeOutTimer ??= setInterval(() => {
      waited += WHOLE_OUT_CHECK_MS;
      const out = this.wholeSent && this.options.channel.bufferedAmount === 0;
      if (out || waited >= WHOLE_OUT_MAX_MS) this.stopVideo();
    }, WHOLE_OUT_CHECK_MS);
  }

  private cancelStopVideo() {
    clearTimeout(this.firstVideoTimer);
    this.firstVideoTimer = undefined;
    clearInterval(this.wholeOutTimer);
    this.wholeOutTimer = undefined;
  }

  private toVideo() {
    this.cancelStopVideo();
    this.leave();
    this.state = "video";
    this.options.video.watch();
  }

  private lost(why: string) {
    if (this.closed || this.state === "video") return;
    this.options.log.info({ why }, "screen as video");
    this.toVideo();
  }

  private leave() {
    this.leaveStream?.();
    this.leaveStream = undefined;
  }

  private send(message: Buffer) {
    if (this.options.channel.readyState !== "open") return;
    if (message[0] === SCREEN_MESSAGES.whole) this.wholeSent = true;
    try {
      this.options.channel.send(message);
    } catch (error) {
      this.options.log.debug({ err: error }, "screen message not sent");
    }
  }
}
