import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createStore, loadRecordingConfig } from "./config.ts";
import { LocalStore } from "./stores/local.ts";
import { S3Store } from "./stores/s3.ts";

const S3_ENV = {
  RD_RECORDING_STORE: "s3",
  RD_S3_BUCKET: "recordings",
  RD_S3_ACCESS_KEY_ID: "AKIAEXAMPLE",
  RD_S3_SECRET_ACCESS_KEY: "secret",
};

describe("loadRecordingConfig", () => {
  it("stores recordings under the data directory when nothing is set", () => {
    expect(loadRecordingConfig({}, "/var/lib/rd")).toEqual({ store: "local", dir: "/var/lib/rd/recordings" });
    expect(loadRecordingConfig({ RD_RECORDING_STORE: "" }, ".data")).toEqual({
      store: "local",
      dir: ".data/recordings",
    });
  });

  it("takes the directory from RD_RECORDING_DIR", () => {
    expect(loadRecordingConfig({ RD_RECORDING_DIR: "/mnt/recordings" }, ".data")).toEqual({
      store: "local",
      dir: "/mnt/recordings",
    });
  });

  it("reads an S3 store with the defaults for region and path style", () => {
    expect(loadRecordingConfig(S3_ENV, ".data")).toEqual({
      store: "s3",
      s3: {
        bucket: "recordings",
        region: "us-east-1",
        accessKeyId: "AKIAEXAMPLE",
        secretAccessKey: "secret",
        forcePathStyle: true,
      },
    });
  });

  it("reads every S3 setting", () => {
    const env = {
      ...S3_ENV,
      RD_S3_ENDPOINT: "https://minio.example:9000",
      RD_S3_REGION: "eu-central-1",
      RD_S3_FORCE_PATH_STYLE: "false",
    };
    expect(loadRecordingConfig(env, ".data")).toMatchObject({
      s3: { endpoint: "https://minio.example:9000", region: "eu-central-1", forcePathStyle: false },
    });
  });

  it("names every missing S3 setting and says what to set it to", () => {
    expect(() =>
      loadRecordingConfig({ RD_RECORDING_STORE: "s3", RD_S3_SECRET_ACCESS_KEY: " " }, ".data"),
    ).toThrow(
      new Error(
        "Invalid recording storage configuration — fix these environment variables:\n" +
          "  RD_S3_BUCKET: is required with RD_RECORDING_STORE=s3: set it to the bucket to keep recordings in\n" +
          "  RD_S3_ACCESS_KEY_ID: is required with RD_RECORDING_STORE=s3: set it to the access key of a user allowed to read, write, list and delete in it\n" +
          "  RD_S3_SECRET_ACCESS_KEY: is required with RD_RECORDING_STORE=s3: set it to that access key's secret",
      ),
    );
  });

  it.each([
    [{ RD_RECORDING_STORE: "gcs" }, /RD_RECORDING_STORE: must be "local" .* or "s3"/],
    [{ ...S3_ENV, RD_S3_ENDPOINT: "minio:9000" }, /RD_S3_ENDPOINT: must be an http:\/\/ or https:\/\/ URL/],
    [{ ...S3_ENV, RD_S3_FORCE_PATH_STYLE: "yes" }, /RD_S3_FORCE_PATH_STYLE: must be "true" or "false"/],
  ])("refuses a wrong value: %j", (env, message) => {
    expect(() => loadRecordingConfig(env, ".data")).toThrow(message);
  });

  it("needs no S3 setting for the local store", () => {
    expect(loadRecordingConfig({ RD_S3_BUCKET: "unused" }, ".data")).toMatchObject({ store: "local" });
  });
});

describe("createStore", () => {
  it("makes the store the configuration names", async () => {
    const dir = await mkdtemp(join(tmpdir(), "rd-recording-config-"));
    try {
      const local = createStore(loadRecordingConfig({}, dir));
      expect(local).toBeInstanceOf(LocalStore);
      await local.put("t1/r1/000001.m4s", Uint8Array.of(1));
      expect([...(await local.get("t1/r1/000001.m4s"))]).toEqual([1]);
      const s3 = createStore(loadRecordingConfig(S3_ENV, dir));
      expect(s3).toBeInstanceOf(S3Store);
      (s3 as S3Store).close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
