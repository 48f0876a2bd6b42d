/**
 * The agent's screen as tiles (@rd/protocol screen-tiles.ts), from its `screen` data channel: each
 * update is inflated, applied to the picture and drawn on a canvas, whose captured stream the
 * viewer's video element shows while tiles carry the picture. The element stays the one surface
 * that input, full screen, scaling and the stall watch measure, whichever way the picture comes.
 *
 * The agent says when the video track takes over (`video`); the first update after that (always
 * the whole picture) hands back to tiles. An update that cannot be read closes the channel, which
 * the agent takes as "send video" (tile-feed.ts): the picture carries on, only dearer.
 */
import { Inflate } from "fflate";
import {
  applyTileUpdate,
  MAX_SCREEN_UPDATE_BYTES,
  SCREEN_MESSAGES,
  type TilePicture,
  type TileRect,
} from "@rd/protocol";

export interface TileScreenEvents {
  /** Tiles carry the picture: show this stream (the canvas's). */
  onTiles(stream: MediaStream): void;
  /** The video track carries the picture from now. */
  onVideo(): void;
}

/** What the tiles brought so far, for the stats overlay. */
export interface TileCounts {
  updates: number;
  bytes: number;
  width: number;
  height: number;
}

/** A decompressed update larger than this is refused: far above a 4K screen's raw pixels. */
const MAX_INFLATED_BYTES = 128 * 1024 * 1024;

type CanvasTrack = MediaStreamTrack & { requestFrame?: () => void };

export class TileScreen {
  private readonly channel: RTCDataChannel;
  private readonly events: TileScreenEvents;
  private parts: Uint8Array[] = [];
  private partBytes = 0;
  private picture?: TilePicture;
  private canvas?: HTMLCanvasElement;
  private context?: CanvasRenderingContext2D;
  private image?: ImageData;
  private stream?: MediaStream;
  /** Tiles are what the viewer shows (an update came since the last `video`). */
  private showing = false;
  /** Set once the video took over: only a whole picture is drawn again. */
  private waitForWhole = false;
  private closed = false;
  readonly counts: TileCounts = { updates: 0, bytes: 0, width: 0, height: 0 };

  constructor(channel: RTCDataChannel, events: TileScreenEvents) {
    this.channel = channel;
    this.events = events;
    channel.binaryType = "arraybuffer";
    channel.onmessage = (event: MessageEvent) => this.received(event.data);
  }

  /**
   * The video carries the picture from now: the agent said so, or the viewer saw video arrive while
   * on tiles (the agent's word comes on this channel, behind whatever a lossy link holds up).
   */
  videoNow(): void {
    if (this.closed || !this.showing) return;
    this.showing = false;
    this.waitForWhole = true;
    this.events.onVideo();
  }

  close(): void {
    this.closed = true;
    this.channel.onmessage = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
  }

  private received(data: unknown) {
    if (this.closed) return;
    if (!(data instanceof ArrayBuffer) || data.byteLength === 0)
      return this.fail("a screen message that is not binary");
    const bytes = new Uint8Array(data);
    switch (bytes[0]) {
      case SCREEN_MESSAGES.part:
      case SCREEN_MESSAGES.last:
      case SCREEN_MESSAGES.whole: {
        this.partBytes += bytes.length - 1;
        if (this.partBytes > MAX_SCREEN_UPDATE_BYTES) return this.fail("a screen update over its size limit");
        this.parts.push(bytes.subarray(1));
        if (bytes[0] === SCREEN_MESSAGES.part) return;
        const parts = this.parts;
        this.parts = [];
        this.partBytes = 0;
        // After the video took over, only a whole picture brings the tiles back: changes still on
        // their way belong to the tiles' picture from before.
        if (this.waitForWhole && bytes[0] !== SCREEN_MESSAGES.whole) return;
        this.waitForWhole = false;
        return this.apply(parts);
      }
      case SCREEN_MESSAGES.video:
        return this.videoNow();
      case SCREEN_MESSAGES.alive:
        return this.present(undefined);
      default:
        return this.fail(`an unknown screen message (${bytes[0]})`);
    }
  }

  private apply(parts: Uint8Array[]) {
    if (this.closed) return;
    try {
      const { picture, changed } = applyTileUpdate(this.picture, inflate(parts));
      this.picture = picture;
      this.counts.updates++;
      this.counts.bytes += parts.reduce((sum, part) => sum + part.length, 0);
      this.present(changed);
    } catch (error) {
      this.fail((error as Error).message);
    }
  }

  /** Draws what changed (none: the same picture again, as a sign of life) and captures a frame. */
  private present(changed: TileRect | undefined) {
    const picture = this.picture;
    if (!picture || this.closed) return;
    if (!this.canvas || this.canvas.width !== picture.width || this.canvas.height !== picture.height) {
      this.canvas ??= document.createElement("canvas");
      this.canvas.width = picture.width;
      this.canvas.height = picture.height;
      this.context = this.canvas.getContext("2d", { alpha: false }) ?? undefined;
      changed = { x: 0, y: 0, width: picture.width, height: picture.height };
      this.counts.width = picture.width;
      this.counts.height = picture.height;
    }
    if (!this.context) return this.fail("the browser gave no 2D canvas");
    if (this.image?.data !== picture.rgba)
      this.image = new ImageData(
        picture.rgba as Uint8ClampedArray<ArrayBuffer>,
        picture.width,
        picture.height,
      );
    // A sign of life redraws one pixel: a canvas that did not change may not give a new frame.
    const area = changed ?? { x: 0, y: 0, width: 1, height: 1 };
    this.context.putImageData(this.image, 0, 0, area.x, area.y, area.width, area.height);
    if (!this.stream) this.stream = this.canvas.captureStream(0);
    (this.stream.getVideoTracks()[0] as CanvasTrack | undefined)?.requestFrame?.();
    if (!this.showing && changed) {
      this.showing = true;
      this.events.onTiles(this.stream);
    }
  }

  /** An update it cannot read: the agent, seeing the channel close, sends video instead. */
  private fail(why: string) {
    if (this.closed) return;
    console.warn(`screen: ${why}; switching to video`);
    this.close();
    this.channel.close();
    if (this.showing) {
      this.showing = false;
      this.events.onVideo();
    }
  }
}

/**
 * Raw deflate, as the agent's zlib wrote it, bounded. Synchronous (fflate): the browser's
 * DecompressionStream took ~45 ms for a first picture of a few kilobytes on a page busy starting
 * its session (bench:media), nearly all of it in stream hand-offs between tasks.
 */
function inflate(parts: Uint8Array[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  let length = 0;
  const inflater = new Inflate((chunk) => {
    length += chunk.length;
    if (length > MAX_INFLATED_BYTES) throw new Error("a screen update that inflates past its size limit");
    chunks.push(chunk);
  });
  parts.forEach((part, i) => inflater.push(part, i === parts.length - 1));
  if (chunks.length === 1) return chunks[0]!;
  const update = new Uint8Array(length);
  let at = 0;
  for (const chunk of chunks) {
    update.set(chunk, at);
    at += chunk.length;
  }
  return update;
}
