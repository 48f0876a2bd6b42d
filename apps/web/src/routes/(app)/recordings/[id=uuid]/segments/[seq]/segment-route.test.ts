/**
 * The segment route end to end below HTTP: a real database, real sealed segments in a real local
 * store, the real keyring; only the app's composition root is replaced (it would start the whole
 * server). Who gets a segment, its bytes and ranges, and the refusals: 404 alike for missing and
 * forbidden, 409 for a segment that fails its integrity check, 410 for a deleted recording.
 */
import { createHash, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { authUserOf, type AuthUser, createAuth, createSecretBox } from "@rd/auth";
import { importTicketKey } from "@rd/auth/tickets";
import {
  Agents,
  type DbHandle,
  RecordingSegments,
  Recordings,
  RemoteSessions,
  SessionEvents,
  Tenants,
  Users,
  type UserRole,
} from "@rd/db";
import { eq } from "drizzle-orm";
import { testDatabases } from "@rd/db/testing";
import { createKeyring, LocalStore, sealSegment, segmentKey } from "@rd/recording";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { log } from "$lib/server/log.ts";
import { GET } from "./+server.ts";

const SECRET = "segment-route-test-secret-0123456789abcdef";

const app: Record<string, unknown> = {};
vi.mock("$lib/server/app.ts", () => ({ getApp: () => app }));

type Event = Parameters<typeof GET>[0];

describe.each(testDatabases())("the segment route on $name", (backend) => {
  let handle: DbHandle;
  let dir: string;
  let admin: AuthUser;
  let tech: AuthUser;
  let stranger: AuthUser;
  let foreignAdmin: AuthUser;
  let recordingId: string;
  let deletedId: string;
  const plain = new Uint8Array(Array.from({ length: 64 }, (_, i) => i));

  async function get(user: AuthUser | null, id: string, seq: string, range?: string) {
    const url = new URL(`http://localhost/recordings/${id}/segments/${seq}`);
    const event = {
      params: { id, seq },
      url,
      request: new Request(url, { headers: range ? { range } : {} }),
      locals: { user, sessionId: null, csrfToken: "", clientIp: "127.0.0.1" },
    } as unknown as Event;
    return GET(event);
  }

  beforeAll(async () => {
    // The refusals below are logged as errors by design; they are asserted, not read.
    log.level = "silent";
    handle = await backend.create();
    const db = handle.db;
    dir = await mkdtemp(join(tmpdir(), "rd-segments-"));
    const store = new LocalStore(dir);
    const keyring = createKeyring(SECRET);
    Object.assign(app, {
      database: handle,
      authFor: () => createAuth(db, { secureCookies: false }),
      ticketKey: await importTicketKey(SECRET),
      secretBox: createSecretBox(SECRET, "totp"),
      env: { RD_MAX_OBSERVERS: 8 },
      recording: { store, keyring },
    });

    const tenant = async (name: string) => (await db.insert(Tenants).values({ name }).returning())[0]!.id;
    const user = async (tenantId: string, role: UserRole, label: string) => {
      const [row] = await db
        .insert(Users)
        .values({ tenantId, email: `${label}@example.test`, name: label, role, passwordHash: "x" })
        .returning();
      return authUserOf(row!);
    };
    const tenantId = await tenant("Alpha");
    const otherTenant = await tenant("Beta");
    admin = await user(tenantId, "admin", "admin");
    tech = await user(tenantId, "technician", "tech");
    stranger = await user(tenantId, "technician", "stranger");
    foreignAdmin = await user(otherTenant, "admin", "foreign");
    const [agent] = await db
      .insert(Agents)
      .values({
        tenantId,
        name: "desk",
        hostname: "desk.lan",
        os: "linux",
        version: "1",
        credentialHash: "x",
      })
      .returning();
    const [session] = await db
      .insert(RemoteSessions)
      .values({ tenantId, agentId: agent!.id, technicianId: tech.id, status: "ended" })
      .returning();

    async function recording(state: "complete" | "deleted") {
      const id = randomUUID();
      const { key, wrapped } = keyring.newRecordingKey();
      await db.insert(Recordings).values({
        id,
        tenantId,
        sessionId: session!.id,
        state,
        storage: "local",
        storagePrefix: `${tenantId}/${id}/`,
        wrappedKey: wrapped,
        ...(state === "deleted" ? { deletedAt: new Date("2025-03-04T12:00:00Z") } : {}),
      });
      return { id, key };
    }
    const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
    const row = (id: string, seq: number, hash: string) => ({
      recordingId: id,
      tenantId,
      seq,
      startMs: (seq - 1) * 4000,
      durationMs: 4000,
      bytes: plain.length,
      sha256: hash,
      keyframe: true,
    });

    const good = await recording("complete");
    recordingId = good.id;
    // 1: as recorded. 2: a bit flipped in the store. 3: sealed right, but not what the chain
    // says was recorded. 4: indexed, gone from the store.
    await store.put(segmentKey(tenantId, good.id, 1), await sealSegment(good.key, good.id, 1, plain));
    const flipped = await sealSegment(good.key, good.id, 2, plain);
    flipped[20]! ^= 1;
    await store.put(segmentKey(tenantId, good.id, 2), flipped);
    await store.put(segmentKey(tenantId, good.id, 3), await sealSegment(good.key, good.id, 3, plain));
    await db
      .insert(RecordingSegments)
      .values([
        row(good.id, 1, sha256(plain)),
        row(good.id, 2, sha256(plain)),
        row(good.id, 3, "0".repeat(64)),
        row(good.id, 4, sha256(plain)),
      ]);

    const deleted = await recording("deleted");
    deletedId = deleted.id;
    await db.insert(RecordingSegments).values([row(deleted.id, 1, sha256(plain))]);
  });
  afterAll(async () => {
    await handle?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it("serves an opened segment to the session's technician and to an admin, never cached", async () => {
    for (const user of [tech, admin]) {
      const res = await get(user, recordingId, "1");
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toBe("video/mp4");
      expect(res.headers.get("cache-control")).toBe("private, no-store");
      expect(res.headers.get("accept-ranges")).toBe("bytes");
      expect(new Uint8Array(await res.arrayBuffer())).toEqual(plain);
    }
  });

  it("answers a single byte range, and refuses one past the end", async () => {
    const part = await get(tech, recordingId, "1", "bytes=10-13");
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe("bytes 10-13/64");
    expect([...new Uint8Array(await part.arrayBuffer())]).toEqual([10, 11, 12, 13]);
    const tail = await get(tech, recordingId, "1", "bytes=-2");
    expect(tail.headers.get("content-range")).toBe("bytes 62-63/64");
    const beyond = await get(tech, recordingId, "1", "bytes=64-");
    expect(beyond.status).toBe(416);
    expect(beyond.headers.get("content-range")).toBe("bytes */64");
  });

  it("gives the same 404 for a segment the caller may not see as for one that does not exist", async () => {
    const missing = await get(tech, recordingId, "99");
    expect(missing.status).toBe(404);
    const body = await missing.json();
    for (const [user, id, seq] of [
      [stranger, recordingId, "1"],
      [foreignAdmin, recordingId, "1"],
      [tech, randomUUID(), "1"],
      [tech, recordingId, "0"],
      [tech, recordingId, "x1"],
      [stranger, deletedId, "1"],
    ] as const) {
      const res = await get(user, id, seq);
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual(body);
    }
  });

  it("asks for a sign-in first", async () => {
    expect((await get(null, recordingId, "1")).status).toBe(401);
  });

  it("refuses a segment that fails its integrity check with 409, whichever check it fails", async () => {
    for (const seq of ["2", "3"]) {
      const res = await get(tech, recordingId, seq);
      expect(res.status).toBe(409);
      expect(res.headers.get("cache-control")).toBe("private, no-store");
      const { error } = (await res.json()) as { error: { message: string; code: string } };
      expect(error.code).toBe("segment_tampered");
      expect(error.message).toMatch(
        new RegExp(`^Segment ${seq} of this recording failed its integrity check`),
      );
    }
    // Each refusal is in the audit trail, with the viewer who met it.
    const refused = await handle.db
      .select()
      .from(SessionEvents)
      .where(eq(SessionEvents.type, "recording_segment_refused"));
    expect(refused.map((e) => e.data.seq).sort()).toEqual([2, 3]);
    expect(refused[0]!.data).toMatchObject({ recordingId, viewer: tech.id });
  });

  it("says a segment indexed but gone from the store is missing", async () => {
    const res = await get(admin, recordingId, "4");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { message: string } }).error.message).toMatch(
      /missing from the recording store/,
    );
  });

  it("answers 410 Gone, with a sentence, for a deleted recording's segment", async () => {
    const res = await get(admin, deletedId, "1");
    expect(res.status).toBe(410);
    expect(((await res.json()) as { error: { message: string } }).error.message).toBe(
      "This recording was deleted on 2025-03-04 by the retention policy; its audit trail remains.",
    );
  });
});
