import { describe, expect, it } from "vitest";
import { flvHeader, flvTag, pushInPieces } from "./flv-fixtures.ts";
import { FLV_TAG_TYPE, FlvReader, type FlvTag } from "./flv-reader.ts";

const script = flvTag(FLV_TAG_TYPE.script, Buffer.from("onMetaData"));
const first = flvTag(FLV_TAG_TYPE.video, Buffer.alloc(3000, 1));
const second = flvTag(FLV_TAG_TYPE.video, Buffer.alloc(5, 2));
const stream = Buffer.concat([flvHeader(), script, first, second]);

function read(pieces: number[]) {
  const tags: FlvTag[] = [];
  const reader = new FlvReader((tag) => tags.push({ type: tag.type, data: Buffer.from(tag.data) }));
  pushInPieces(stream, pieces, (chunk) => reader.push(chunk));
  return tags;
}

describe("FlvReader", () => {
  it("reads every tag whole, however the stream is split", () => {
    const whole = read([stream.length]);
    expect(whole.map((t) => [t.type, t.data.length])).toEqual([
      [FLV_TAG_TYPE.script, 10],
      [FLV_TAG_TYPE.video, 3000],
      [FLV_TAG_TYPE.video, 5],
    ]);
    for (const pieces of [[1], [7], [13, 11, 1], [4096]]) expect(read(pieces)).toEqual(whole);
  });

  it("hands a tag on as soon as its trailing size arrives, not when the next tag starts", () => {
    const tags: FlvTag[] = [];
    const reader = new FlvReader((tag) => tags.push(tag));
    reader.push(Buffer.concat([flvHeader(), first.subarray(0, first.length - 1)]));
    expect(tags).toHaveLength(0);
    reader.push(first.subarray(first.length - 1));
    expect(tags).toHaveLength(1);
  });

  it("rejects a stream that is not FLV", () => {
    const reader = new FlvReader(() => {});
    expect(() => reader.push(Buffer.from("DKIF\0\0\0\0\0\0\0\0\0"))).toThrow(/not an FLV stream/);
  });

  it("rejects a tag whose trailing size disagrees with its header (a corrupt stream)", () => {
    const reader = new FlvReader(() => {});
    const bad = flvTag(FLV_TAG_TYPE.video, Buffer.alloc(20), 99);
    expect(() => reader.push(Buffer.concat([flvHeader(), bad]))).toThrow(/corrupt/);
  });
});
