/**
 * A display's video sources, one per codec: each viewer is fed from the source of the codec its
 * answer chose, so a browser that cannot decode the preferred codec still gets a picture. A source
 * is made on first use and runs ffmpeg only while someone watches it, so a codec no viewer
 * negotiated costs nothing.
 */
import { codecsByPreference, type VideoCodec } from "./video-codec.ts";
import { VideoSource, type VideoSourceOptions } from "./video-source.ts";

export class VideoSources {
  private readonly sources = new Map<VideoCodec, VideoSource>();
  private readonly options: VideoSourceOptions;

  /** `options.codec` is the preferred codec; every source is made with these options but its codec. */
  constructor(options: VideoSourceOptions) {
    this.options = options;
  }

  /** Every codec the agent can send, the configured one first: the order a peer offers them in. */
  get codecs(): VideoCodec[] {
    return codecsByPreference(this.options.codec);
  }

  /** The display's source for `codec`, made now if this is the first viewer of that codec. */
  get(codec: VideoCodec): VideoSource {
    let source = this.sources.get(codec);
    if (!source) {
      source = new VideoSource({ ...this.options, codec, log: this.options.log.child({ codec }) });
      this.sources.set(codec, source);
    }
    return source;
  }

  /** Has the preferred codec's encoder ready to start at once (see VideoSource.prepare). */
  prepare(): void {
    this.get(this.options.codec).prepare();
  }

  /** Gets the preferred codec's source ready for a session on its way (see VideoSource.sessionComing). */
  sessionComing(startNow: boolean): Promise<void> {
    return this.get(this.options.codec).sessionComing(startNow);
  }

  /** The sources made so far (a codec nobody asked for has none). */
  all(): VideoSource[] {
    return [...this.sources.values()];
  }

  /** Stops every encoder of the display; a later `get` still works, for a new viewer. */
  stop(): void {
    for (const source of this.sources.values()) source.stop();
  }
}
