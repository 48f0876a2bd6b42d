/**
 * Tampering with stored segments is named by verifyRecording, segment by segment: a changed byte,
 * a removed segment, two swapped. Real database (the audit chain holds the hashes), real local store.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import {
  addSegment,
  Agents,
  type DbHandle,
  finishRecording,
  joinSession,
  markRecordingDeleted,
  type Recording,
  Recordings,
  RemoteSessions,
  startRecording,
  Tenants,
  transitionSession,
  Users,
} from "@rd/db";
import { testDatabases } from "@rd/db/testing";
import { eq } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKeyring, sealSegment } from "./segment-crypto.ts";
import { segmentKey } from "./stores/keys.ts";
import { LocalStore } from "./stores/local.ts";
import { verifyRecording } from "./verify-recording.ts";

const keyring = createKeyring("s".repeat(40));

describe.each(testDatabases())("verifyRecording on $name", (backend) => {
  let handle: DbHandle;
  let dir: string;
  let store: LocalStore;
  let tenantId: string;
  let owner: string;
  let agentId: string;
  const system = { type: "system" as const };

  beforeAll(async () => {
    handle = await backend.create();
    dir = await mkdtemp(path.join(tmpdir(), "rd-verify-"));
    store = new LocalStore(dir);
    const [tenant] = await handle.db.insert(Tenants).values({ name: "Acme" }).returning();
    tenantId = tenant!.id;
    const [user] = await handle.db
      .insert(Users)
      .values({
        tenantId,
        email: `v-${randomUUID()}@acme.example`,
        name: "V",
        role: "technician",
        passwordHash: "x",
      })
      .returning();
    owner = user!.id;
    const [agent] = await handle.db
      .insert(Agents)
      .values({ tenantId, name: "desk", hostname: "desk", os: "linux", version: "1", credentialHash: "x" })
      .returning();
    agentId = agent!.id;
  });
  afterAll(async () => {
    await handle?.close();
    await rm(dir, { recursive: true, force: true });
  });

  /** A finished recording of four stored segments; returns it with its key. */
  async function recorded(): Promise<{ recording: Recording; key: Buffer }> {
    const [session] = await handle.db
      .insert(RemoteSessions)
      .values({ tenantId, agentId, technicianId: owner })
      .returning();
    await joinSession(handle.db, {
      tenantId,
      sessionId: session!.id,
      userId: owner,
      actor: system,
      opener: true,
    });
    await transitionSession(handle.db, {
      tenantId,
      sessionId: session!.id,
      transition: "start",
      actor: system,
    });
    const { key, wrapped } = keyring.newRecordingKey();
    const recording = await startRecording(handle.db, {
      id: randomUUID(),
      tenantId,
      sessionId: session!.id,
      startedBy: owner,
      storage: "local",
      wrappedKey: wrapped,
    });
    for (let seq = 1; seq <= 4; seq++) {
      const bytes = new TextEncoder().encode(`segment ${seq} `.repeat(100));
      await store.put(
        segmentKey(tenantId, recording.id, seq),
        await sealSegment(key, recording.id, seq, bytes),
      );
      await addSegment(handle.db, recording, {
        seq,
        startMs: (seq - 1) * 3000,
        durationMs: 3000,
        gapBeforeMs: 0,
        bytes: bytes.length,
        sha256: createHash("sha256").update(bytes).digest("hex"),
        keyframe: true,
        activity: [],
        codec: "h264",
      });
    }
    await finishRecording(handle.db, {
      recordingId: recording.id,
      state: "complete",
      reason: "session_ended",
    });
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, recording.id));
    return { recording: row!, key: keyring.unwrap(row!.wrappedKey) };
  }

  const file = (recording: Recording, seq: number) => path.join(dir, segmentKey(tenantId, recording.id, seq));

  it("passes an untouched recording", async () => {
    const { recording, key } = await recorded();
    expect(await verifyRecording({ db: handle.db, store, recording, key })).toEqual({
      ok: true,
      segments: 4,
      state: "complete",
      deleted: false,
    });
  });

  it("names an altered segment, a removed one and two swapped ones", async () => {
    const { recording, key } = await recorded();
    const sealed2 = await store.get(segmentKey(tenantId, recording.id, 2));
    sealed2[40] = sealed2[40]! ^ 0x01;
    await writeFile(file(recording, 2), sealed2);
    await unlink(file(recording, 1));
    const [three, four] = [
      await store.get(segmentKey(tenantId, recording.id, 3)),
      await store.get(segmentKey(tenantId, recording.id, 4)),
    ];
    await writeFile(file(recording, 3), four);
    await writeFile(file(recording, 4), three);
    const result = await verifyRecording({ db: handle.db, store, recording, key });
    expect(result.ok).toBe(false);
    expect(result.ok === false && result.problems.map((p) => [p.seq, p.reason])).toEqual([
      [1, "missing"],
      [2, "altered"],
      [3, "reordered"],
      [4, "reordered"],
    ]);
    expect(result.ok === false && result.problems[2]!.message).toMatch(/segment 3 holds segment 4's data/);
  });

  it("names a segment re-sealed with the right key but other content: its hash no longer matches the chain", async () => {
    const { recording, key } = await recorded();
    await store.put(
      segmentKey(tenantId, recording.id, 2),
      await sealSegment(key, recording.id, 2, new TextEncoder().encode("forged")),
    );
    const result = await verifyRecording({ db: handle.db, store, recording, key });
    expect(result.ok === false && result.problems.map((p) => [p.seq, p.reason])).toEqual([
      [2, "hash_mismatch"],
    ]);
  });

  it("accepts a recording deleted by retention: its segments are gone on purpose, its hashes remain", async () => {
    const { recording, key } = await recorded();
    await store.deletePrefix(recording.storagePrefix);
    await markRecordingDeleted(handle.db, recording, 30);
    const [row] = await handle.db.select().from(Recordings).where(eq(Recordings.id, recording.id));
    expect(await verifyRecording({ db: handle.db, store, recording: row!, key })).toMatchObject({
      ok: true,
      deleted: true,
      segments: 4,
    });
  });
});
