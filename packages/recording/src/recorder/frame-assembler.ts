/**
 * Turns the RTP packets of one video stream back into whole encoded frames, in order, without
 * decoding anything. Packets may arrive out of order (NACK retransmissions come late), so a frame
 * is released only once every packet from the previous frame's end to its marker bit is here. A
 * packet still missing after `lossWaitMs` is lost: the broken frame and every frame after it are
 * dropped until the next keyframe (a decoder could not use them), and `onLoss` asks for a keyframe.
 * Frames keep their arrival time, the recording's clock, so a stall stays a stall.
 */
import { dePacketizeRtpPackets, type RtpPacket } from "werift";
import type { RecordedCodec } from "../contracts.ts";

export interface AssembledFrame {
  data: Buffer;
  keyframe: boolean;
  /** When its last packet arrived, in ms on the caller's clock. */
  timeMs: number;
}

export interface FrameAssemblerOptions {
  codec: RecordedCodec;
  onFrame(frame: AssembledFrame): void;
  /** A packet was lost for good: the sender should send a keyframe. */
  onLoss(): void;
  /** How long a gap in sequence numbers may wait for its retransmission. */
  lossWaitMs?: number;
}

/** Sequence numbers are 16 bits and wrap: "a is after b" in RFC 3550's arithmetic. */
const after = (a: number, b: number) => ((a - b) & 0xffff) !== 0 && ((a - b) & 0xffff) < 0x8000;
const next = (seq: number) => (seq + 1) & 0xffff;

interface Pending {
  packet: RtpPacket;
  arrivedMs: number;
}

export class FrameAssembler {
  private readonly options: FrameAssemblerOptions;
  private readonly lossWaitMs: number;
  /** Packets not yet released, by sequence number. */
  private readonly pending = new Map<number, Pending>();
  /** The sequence number the next frame starts at; undefined until the first frame is released. */
  private expected?: number;
  /** After a loss (and at the start): frames are dropped until a keyframe. */
  private waitingForKeyframe = true;
  /** werift's depacketizer names H.264 by its MPEG-4 name. */
  private readonly codecName: "MPEG4/ISO/AVC" | "VP8";

  constructor(options: FrameAssemblerOptions) {
    this.options = options;
    this.lossWaitMs = options.lossWaitMs ?? 300;
    this.codecName = options.codec === "h264" ? "MPEG4/ISO/AVC" : "VP8";
  }

  push(packet: RtpPacket, nowMs: number): void {
    const seq = packet.header.sequenceNumber;
    if (this.expected !== undefined && !after(seq, this.expected) && seq !== this.expected) return; // old duplicate
    this.pending.set(seq, { packet, arrivedMs: nowMs });
    this.release(nowMs);
  }

  /** Releases every complete frame in order, and gives up on packets that are not coming. */
  private release(nowMs: number) {
    for (;;) {
      if (this.expected === undefined) {
        if (!this.startAtFirstFrame()) return;
      }
      const frame = this.completeFrameAt(this.expected!);
      if (frame) {
        this.emit(frame);
        continue;
      }
      if (!this.lostAt(nowMs)) return;
      // Skip the hole: restart at the oldest frame start after it and wait for a keyframe.
      this.waitingForKeyframe = true;
      this.options.onLoss();
      if (!this.skipToNextFrameStart()) return;
    }
  }

  /** The first packet of the stream's first frame is the one after a marker, or the oldest we have. */
  private startAtFirstFrame(): boolean {
    if (this.pending.size === 0) return false;
    const seqs = [...this.pending.keys()].sort((a, b) => (after(a, b) ? 1 : -1));
    // Start at the oldest packet, once some frame is complete (a marker has arrived).
    if (!seqs.some((seq) => this.pending.get(seq)!.packet.header.marker)) return false;
    this.expected = seqs[0];
    return true;
  }

  /** Packets from `start` to the next marker, all present; null while any is missing. */
  private completeFrameAt(start: number): Pending[] | null {
    const packets: Pending[] = [];
    let seq = start;
    for (let i = 0; i < 4096; i++) {
      const entry = this.pending.get(seq);
      if (!entry) return null;
      packets.push(entry);
      if (entry.packet.header.marker) return packets;
      seq = next(seq);
    }
    return null;
  }

  /** The expected packet is overdue: something after it has waited longer than lossWaitMs. */
  private lostAt(nowMs: number): boolean {
    let oldest = Infinity;
    for (const { arrivedMs } of this.pending.values()) oldest = Math.min(oldest, arrivedMs);
    return this.pending.size > 0 && nowMs - oldest > this.lossWaitMs;
  }

  /** Drops everything up to the first packet that follows a marker after the hole. */
  private skipToNextFrameStart(): boolean {
    const seqs = [...this.pending.keys()].sort((a, b) => (after(a, b) ? 1 : -1));
    const markerIndex = seqs.findIndex((s) => this.pending.get(s)!.packet.header.marker);
    if (markerIndex < 0) {
      this.pending.clear();
      this.expected = undefined;
      return false;
    }
    for (const s of seqs.slice(0, markerIndex + 1)) this.pending.delete(s);
    this.expected = next(seqs[markerIndex]!);
    return true;
  }

  private emit(frame: Pending[]) {
    for (const { packet } of frame) this.pending.delete(packet.header.sequenceNumber);
    this.expected = next(frame[frame.length - 1]!.packet.header.sequenceNumber);
    let data: Buffer;
    let keyframe: boolean;
    try {
      const out = dePacketizeRtpPackets(
        this.codecName,
        frame.map((f) => f.packet),
      );
      data = out.data;
      keyframe = out.isKeyframe;
    } catch {
      this.waitingForKeyframe = true;
      this.options.onLoss();
      return;
    }
    if (this.waitingForKeyframe && !keyframe) return;
    this.waitingForKeyframe = false;
    if (data.length === 0) return;
    this.options.onFrame({ data, keyframe, timeMs: frame[frame.length - 1]!.arrivedMs });
  }
}
