import { describe, expect, it } from "vitest";
import { loadConfig } from "./config.ts";

describe("loadConfig: RD_AGENT_CODEC", () => {
  it("defaults to H.264 captured at 60 frames/s", () => {
    expect(loadConfig({}).codec).toBe("h264");
    expect(loadConfig({}).fps).toBe(60);
  });

  it.each([
    ["h264", "h264"],
    ["H264", "h264"],
    ["VP8", "vp8"],
  ])("accepts %s", (value, codec) => {
    expect(loadConfig({ RD_AGENT_CODEC: value }).codec).toBe(codec);
  });

  it("rejects another codec, naming the variable and the choices", () => {
    expect(() => loadConfig({ RD_AGENT_CODEC: "av1" })).toThrow(/RD_AGENT_CODEC: .*"vp8".*"h264"/);
  });
});

describe("loadConfig: RD_AGENT_CAPTURE", () => {
  it("defaults to auto: by change while the screen is quiet, grabbing while it is busy", () => {
    expect(loadConfig({}).capture).toBe("auto");
  });

  it("rejects another mode, naming the choices", () => {
    expect(() => loadConfig({ RD_AGENT_CAPTURE: "shm" })).toThrow(
      /RD_AGENT_CAPTURE: .*"auto".*"damage".*"grab"/,
    );
  });
});
