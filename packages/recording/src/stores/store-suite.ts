/**
 * The RecordingStore contract as a test suite, run against every store (local.test.ts,
 * s3.test.ts), so the recorder and the player can rely on the same behaviour from both.
 */
import { randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import type { RecordingStore } from "../contracts.ts";
import { recordingPrefix, segmentKey } from "./keys.ts";
import { InvalidStoreKey, RecordingStoreError } from "./store-error.ts";

/** `createStore` gives an empty store for each test. */
export function recordingStoreSuite(createStore: () => Promise<RecordingStore>): void {
  describe("RecordingStore contract", () => {
    it("reads back exactly the bytes written, empty and multi-megabyte objects included", async () => {
      const store = await createStore();
      const large = new Uint8Array(randomBytes(3 * 1024 * 1024));
      await store.put(segmentKey("t1", "r1", 1), large);
      await store.put(segmentKey("t1", "r1", 2), new Uint8Array());
      expect(Buffer.from(await store.get(segmentKey("t1", "r1", 1))).equals(large)).toBe(true);
      expect((await store.get(segmentKey("t1", "r1", 2))).length).toBe(0);
    });

    it("replaces an object written again under the same key", async () => {
      const store = await createStore();
      await store.put("t1/r1/000001.m4s", Uint8Array.of(1, 2, 3));
      await store.put("t1/r1/000001.m4s", Uint8Array.of(4));
      expect([...(await store.get("t1/r1/000001.m4s"))]).toEqual([4]);
    });

    it("rejects a missing object with not_found", async () => {
      const store = await createStore();
      await store.put("t1/r1/000001.m4s", Uint8Array.of(1));
      for (const key of ["t1/r1/000002.m4s", "t1/r2/000001.m4s", "t1/r1"]) {
        await expect(store.get(key)).rejects.toMatchObject({
          name: "RecordingStoreError",
          code: "not_found",
        });
      }
      await expect(store.get("t1/r1/000002.m4s")).rejects.toBeInstanceOf(RecordingStoreError);
    });

    it.each([
      ["a parent segment", "t1/../../etc/passwd"],
      ["a current-directory segment", "t1/./r1/000001.m4s"],
      ["an absolute path", "/etc/passwd"],
      ["a backslash", "t1\\..\\r1"],
      ["an empty segment", "t1//000001.m4s"],
      ["a hidden name", "t1/r1/.000001.m4s.tmp"],
      ["a trailing slash", "t1/r1/"],
      ["a control character", "t1/r1/0\u0000.m4s"],
      ["nothing", ""],
    ])("refuses a key with %s", async (_, key) => {
      const store = await createStore();
      await expect(store.put(key, Uint8Array.of(1))).rejects.toBeInstanceOf(InvalidStoreKey);
      await expect(store.get(key)).rejects.toBeInstanceOf(InvalidStoreKey);
    });

    it.each(["", "/", "../", "t1/../", "t1\\"])("refuses to delete the prefix %j", async (prefix) => {
      const store = await createStore();
      await expect(store.deletePrefix(prefix)).rejects.toBeInstanceOf(InvalidStoreKey);
    });

    it("deletes one recording's objects and no other's, however many it has", async () => {
      const store = await createStore();
      // More objects than the S3 suite's listing batch, so deletion has to page.
      for (let seq = 1; seq <= 8; seq++) await store.put(segmentKey("t1", "r1", seq), Uint8Array.of(seq));
      // r10 starts with "r1": only a prefix ending in a slash keeps it apart.
      await store.put(segmentKey("t1", "r10", 1), Uint8Array.of(10));
      await store.put(segmentKey("t2", "r1", 1), Uint8Array.of(21));

      await store.deletePrefix(recordingPrefix("t1", "r1"));

      for (let seq = 1; seq <= 8; seq++) {
        await expect(store.get(segmentKey("t1", "r1", seq))).rejects.toMatchObject({ code: "not_found" });
      }
      expect([...(await store.get(segmentKey("t1", "r10", 1)))]).toEqual([10]);
      expect([...(await store.get(segmentKey("t2", "r1", 1)))]).toEqual([21]);
    });

    it("deletes by a prefix that ends inside a name", async () => {
      const store = await createStore();
      for (const seq of [1, 2, 10, 11]) await store.put(segmentKey("t1", "r1", seq), Uint8Array.of(seq));
      await store.deletePrefix("t1/r1/00001");
      await expect(store.get(segmentKey("t1", "r1", 10))).rejects.toMatchObject({ code: "not_found" });
      await expect(store.get(segmentKey("t1", "r1", 11))).rejects.toMatchObject({ code: "not_found" });
      expect([...(await store.get(segmentKey("t1", "r1", 1)))]).toEqual([1]);
      expect([...(await store.get(segmentKey("t1", "r1", 2)))]).toEqual([2]);
    });

    it("deletes a prefix with nothing under it without complaint", async () => {
      const store = await createStore();
      await expect(store.deletePrefix(recordingPrefix("t9", "nothing"))).resolves.toBeUndefined();
    });

    it("writes many objects of one recording at once", async () => {
      const store = await createStore();
      const seqs = Array.from({ length: 12 }, (_, i) => i + 1);
      await Promise.all(seqs.map((seq) => store.put(segmentKey("t1", "r1", seq), Uint8Array.of(seq))));
      const read = await Promise.all(
        seqs.map(async (seq) => (await store.get(segmentKey("t1", "r1", seq)))[0]),
      );
      expect(read).toEqual(seqs);
    });
  });
}
