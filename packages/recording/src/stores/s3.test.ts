import { CreateBucketCommand, S3Client } from "@aws-sdk/client-s3";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type RequestListener, type Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import S3rver from "s3rver";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { S3Store, type S3StoreConfig } from "./s3.ts";
import { recordingStoreSuite } from "./store-suite.ts";

/** s3rver accepts requests signed with its built-in account. */
const CREDENTIALS = { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" };
/** The ports this project's tests may listen on. */
const PORTS = { from: 3400, to: 3499 };

/** Listens on a random free port in PORTS on the loopback interface. */
async function listenInRange(handler: RequestListener): Promise<{ server: Server; port: number }> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = PORTS.from + Math.floor(Math.random() * (PORTS.to - PORTS.from + 1));
    const server = createServer(handler);
    const listening = await new Promise<boolean>((resolve) => {
      server.once("error", () => resolve(false));
      server.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (listening) return { server, port };
  }
  throw new Error(`no free port in ${PORTS.from}-${PORTS.to}`);
}

function closeServer(server: Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

describe("S3Store", () => {
  let directory: string;
  let s3rver: S3rver;
  let server: Server;
  let endpoint: string;
  const stores: S3Store[] = [];
  let buckets = 0;

  beforeAll(async () => {
    directory = await mkdtemp(join(tmpdir(), "rd-recording-s3rver-"));
    s3rver = new S3rver({ silent: true, directory, configureBuckets: [{ name: "existing", configs: [] }] });
    await s3rver.configureBuckets();
    // Our own server around s3rver's handler: s3rver.run() cannot report a port already in use.
    ({ server } = await listenInRange(s3rver.callback()));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  });

  afterAll(async () => {
    for (const store of stores) store.close();
    await closeServer(server);
    await rm(directory, { recursive: true, force: true });
  });

  function storeFor(config: Partial<S3StoreConfig>): S3Store {
    const store = new S3Store(
      { endpoint, bucket: "none", region: "us-east-1", forcePathStyle: true, ...CREDENTIALS, ...config },
      // Three objects per listing page: the suite's eight-object recording takes three pages.
      { batchSize: 3 },
    );
    stores.push(store);
    return store;
  }

  /** A fresh bucket per test. */
  recordingStoreSuite(async () => {
    const bucket = `recordings-${++buckets}`;
    const admin = new S3Client({
      endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      credentials: CREDENTIALS,
    });
    await admin.send(new CreateBucketCommand({ Bucket: bucket }));
    admin.destroy();
    return storeFor({ bucket });
  });

  it("reports a missing bucket as unavailable, not as a missing object", async () => {
    const store = storeFor({ bucket: "no-such-bucket" });
    await expect(store.get("t1/r1/000001.m4s")).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining("NoSuchBucket"),
    });
  });

  it("reports refused credentials as unavailable", async () => {
    const store = storeFor({ bucket: "existing", accessKeyId: "someone-else" });
    await expect(store.put("t1/r1/000001.m4s", Uint8Array.of(1))).rejects.toMatchObject({
      code: "unavailable",
      message: expect.stringContaining("InvalidAccessKeyId"),
    });
  });

  it("reports an unreachable endpoint as unavailable", async () => {
    const { server: closed, port } = await listenInRange(() => undefined);
    await closeServer(closed);
    const store = storeFor({ endpoint: `http://127.0.0.1:${port}`, bucket: "recordings" });
    await expect(store.get("t1/r1/000001.m4s")).rejects.toMatchObject({ code: "unavailable" });
  });

  it("reports a full bucket as full (MinIO's answer when its drives are full)", async () => {
    const { server: full, port } = await listenInRange((_request, response) => {
      response.writeHead(507, { "content-type": "application/xml" });
      response.end(
        '<?xml version="1.0" encoding="UTF-8"?><Error><Code>XMinioStorageFull</Code>' +
          "<Message>Storage backend has reached its minimum free drive threshold.</Message></Error>",
      );
    });
    try {
      const store = storeFor({ endpoint: `http://127.0.0.1:${port}`, bucket: "recordings" });
      await expect(store.put("t1/r1/000001.m4s", Uint8Array.of(1))).rejects.toMatchObject({ code: "full" });
    } finally {
      await closeServer(full);
    }
  });
});
