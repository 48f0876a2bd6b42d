/**
 * A RecordingStore in an S3-compatible bucket (AWS S3, MinIO, Ceph RGW, Garage…): one object per
 * key, in the bucket's root or under the endpoint's path.
 */
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  ListObjectsCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import type { RecordingStore } from "../contracts.ts";
import { checkKey, checkPrefix } from "./keys.ts";
import { RecordingStoreError } from "./store-error.ts";

export interface S3StoreConfig {
  /** Unset for AWS S3 itself; `https://minio.example:9000` for another service. */
  endpoint?: string;
  bucket: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `https://host/bucket/key` rather than `https://bucket.host/key`: what most self-hosted services need. */
  forcePathStyle: boolean;
}

/** S3's limit for one DeleteObjects request, and the most one listing returns. */
const MAX_BATCH = 1000;

/**
 * Error codes S3-compatible services answer when storage or a quota is exhausted: Ceph RGW's
 * quota error, MinIO's full disks; HTTP 507 (Insufficient Storage) is recognised whatever the code.
 */
const FULL_ERRORS = new Set(["QuotaExceeded", "XMinioStorageFull", "StorageFull"]);
const INSUFFICIENT_STORAGE = 507;

export class S3Store implements RecordingStore {
  readonly kind = "s3";
  private readonly client: S3Client;
  private readonly bucket: string;
  private readonly batchSize: number;

  /** `batchSize`: objects listed and deleted per request in deletePrefix (tests make it small). */
  constructor(config: S3StoreConfig, options: { batchSize?: number } = {}) {
    this.bucket = config.bucket;
    this.batchSize = Math.min(options.batchSize ?? MAX_BATCH, MAX_BATCH);
    this.client = new S3Client({
      ...(config.endpoint ? { endpoint: config.endpoint } : {}),
      region: config.region,
      credentials: { accessKeyId: config.accessKeyId, secretAccessKey: config.secretAccessKey },
      forcePathStyle: config.forcePathStyle,
      // The SDK's default adds CRC32 checksums to every upload, which several S3-compatible
      // services reject; send them only where the API requires one (DeleteObjects).
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    checkKey(key);
    try {
      await this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: body,
          ContentType: "application/octet-stream",
        }),
      );
    } catch (error) {
      throw storeError(error, `write ${key}`);
    }
  }

  async get(key: string): Promise<Uint8Array> {
    checkKey(key);
    try {
      const object = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
      if (!object.Body) throw new Error("the response had no body");
      return await object.Body.transformToByteArray();
    } catch (error) {
      throw storeError(error, `read ${key}`);
    }
  }

  /**
   * Lists the keys under `prefix` a page at a time and deletes each page with one DeleteObjects
   * request; the next page starts after the last key listed, so deleting as it goes skips nothing.
   *
   * ListObjects (version 1, with a marker) rather than ListObjectsV2: every S3-compatible service
   * implements it alike, s3rver in the tests included (whose V2 continuation tokens need DES, which
   * OpenSSL 3 no longer provides).
   */
  async deletePrefix(prefix: string): Promise<void> {
    checkPrefix(prefix);
    try {
      let marker: string | undefined;
      for (;;) {
        const page = await this.client.send(
          new ListObjectsCommand({
            Bucket: this.bucket,
            Prefix: prefix,
            MaxKeys: this.batchSize,
            Marker: marker,
          }),
        );
        const keys = (page.Contents ?? []).flatMap((object) => (object.Key ? [object.Key] : []));
        if (keys.length > 0) await this.deleteKeys(keys);
        if (!page.IsTruncated || keys.length === 0) return;
        marker = keys[keys.length - 1];
      }
    } catch (error) {
      throw storeError(error, `delete ${prefix}`);
    }
  }

  private async deleteKeys(keys: string[]): Promise<void> {
    const result = await this.client.send(
      new DeleteObjectsCommand({
        Bucket: this.bucket,
        Delete: { Objects: keys.map((Key) => ({ Key })), Quiet: true },
      }),
    );
    // Quiet mode lists only the failures; one failure fails the whole deletion, to be retried.
    const failed = result.Errors?.[0];
    if (failed) throw new Error(`deleting ${failed.Key} failed: ${failed.Code} ${failed.Message}`);
  }

  /** Closes the client's pooled connections (at shutdown, and between tests). */
  close(): void {
    this.client.destroy();
  }
}

function storeError(error: unknown, what: string): RecordingStoreError {
  if (error instanceof RecordingStoreError) return error;
  const { name, $metadata } = (error ?? {}) as { name?: string; $metadata?: { httpStatusCode?: number } };
  const status = $metadata?.httpStatusCode;
  const detail = [name, status].filter(Boolean).join(", ") || String(error);
  if (name === "NoSuchKey") {
    return new RecordingStoreError("not_found", `Could not ${what}: no such recording object.`, {
      cause: error,
    });
  }
  if ((name && FULL_ERRORS.has(name)) || status === INSUFFICIENT_STORAGE) {
    return new RecordingStoreError("full", `Could not ${what}: the recordings bucket is full (${detail}).`, {
      cause: error,
    });
  }
  return new RecordingStoreError("unavailable", `Could not ${what} in the recordings bucket (${detail}).`, {
    cause: error,
  });
}
