/**
 * The recorder process's loop (in the dashboard's process by default, or on its own: main.ts): it
 * starts the recordings that agents' "always" policy owes, takes every recording nobody holds and
 * records it (session-recorder.ts), ends recordings whose recorder died with their session, and runs
 * the retention sweep. Several recorders may run against one database: claims use SKIP LOCKED and a
 * lease, so each recording has one writer and a dead writer's recording is picked up by another.
 */
import { randomUUID } from "node:crypto";
import {
  claimRecording,
  databaseError,
  type DbHandle,
  parseControlNotice,
  RecordingRefused,
  sessionsOwedRecording,
  startRecording,
  sweepOrphanRecordings,
  UNIQUE_VIOLATION,
} from "@rd/db";
import type { Logger } from "@rd/log";
import type { RTCIceServer } from "werift";
import type { RecordingStore } from "../contracts.ts";
import type { RecordingKeyring } from "../segment-crypto.ts";
import { sweepRetention } from "./retention.ts";
import { SessionRecorder } from "./session-recorder.ts";

export interface RecorderServiceOptions {
  handle: DbHandle;
  store: RecordingStore;
  keyring: RecordingKeyring;
  ticketKey: CryptoKey;
  signalUrl: string;
  iceServers?: RTCIceServer[];
  /** Most sessions this process records at once; more wait for another recorder or a free slot. */
  maxRecordings?: number;
  log: Logger;
}

const TICK_MS = 2000;
const RETENTION_EVERY_MS = 60 * 60_000;

/**
 * A pass's parts: start what an "always" policy owes, claim recordings nobody holds, end orphans
 * and expired recordings. The timer runs all three; a notice only what it can have changed (a
 * session turning active: whether that session is owed one, `owedNew`).
 */
type Pass = "owed" | "owedNew" | "claim" | "sweep";
const ALL_PASSES: readonly Pass[] = ["owed", "claim", "sweep"];

export class RecorderService {
  readonly holder = `recorder-${randomUUID()}`;
  readonly #o: RecorderServiceOptions;
  readonly #log: Logger;
  readonly #running = new Map<string, SessionRecorder>();
  #unlisten?: () => Promise<void>;
  #timer?: ReturnType<typeof setInterval>;
  #ticking?: Promise<void>;
  readonly #pending = new Set<Pass>();
  /** Sessions that turned active since the last pass that looked for owed recordings. */
  readonly #turnedActive = new Set<string>();
  #stopped = false;
  #lastRetention = 0;

  constructor(options: RecorderServiceOptions) {
    this.#o = options;
    this.#log = options.log.child({ module: "recorder", holder: this.holder });
  }

  /** Recordings this process is writing now. */
  get recording(): number {
    return this.#running.size;
  }

  async start(): Promise<void> {
    this.#unlisten = await this.#o.handle.listen((payload) => {
      const notice = parseControlNotice(payload);
      if (notice?.kind === "recording") this.wake(["claim"]);
      else if (notice?.kind === "session" && notice.status === "active") {
        this.#turnedActive.add(notice.sessionId);
        this.wake(["owedNew"]);
      }
    });
    this.#timer = setInterval(() => this.wake(), TICK_MS);
    this.#timer.unref();
    this.wake();
  }

  /**
   * Runs the passes asked for (all of them unless told), now or right after the one under way.
   * A session turning active asks only whether its agent's policy owes it a recording: the claim
   * and the sweeps would run in the embedded database on the one event loop while the session's
   * first viewer is being welcomed (three more queries on every Connect, in the first frame's way),
   * and so would a look at every other live session, which the timer's pass makes anyway.
   */
  wake(passes: readonly Pass[] = ALL_PASSES): void {
    if (this.#stopped) return;
    for (const pass of passes) this.#pending.add(pass);
    if (this.#ticking) return;
    const due = new Set(this.#pending);
    this.#pending.clear();
    this.#ticking = this.#tick(due)
      .catch((error: unknown) => this.#log.error({ err: error }, "recorder pass failed"))
      .finally(() => {
        this.#ticking = undefined;
        if (this.#pending.size > 0) this.wake([]);
      });
  }

  async #tick(due: ReadonlySet<Pass>) {
    const db = this.#o.handle.db;
    // A recording started here announces itself on the control feed, which asks for the claim.
    if (due.has("owed") || due.has("owedNew")) {
      const only = due.has("owed") ? undefined : [...this.#turnedActive];
      this.#turnedActive.clear();
      for (const session of await sessionsOwedRecording(db, only)) {
        await startRecording(db, {
          id: randomUUID(),
          tenantId: session.tenantId,
          sessionId: session.id,
          startedBy: null,
          storage: this.#o.store.kind,
          wrappedKey: this.#o.keyring.newRecordingKey().wrapped,
        }).catch((error: unknown) => {
          // Another recorder started it a moment earlier, or the session ended: nothing owed.
          const raced = databaseError(error)?.code === UNIQUE_VIOLATION;
          if (!(error instanceof RecordingRefused) && !raced)
            this.#log.warn({ err: error, sessionId: session.id }, "could not start a policy recording");
        });
      }
    }
    if (due.has("claim")) await this.#claim();
    if (!due.has("sweep")) return;
    await sweepOrphanRecordings(db);
    if (Date.now() - this.#lastRetention > RETENTION_EVERY_MS) {
      this.#lastRetention = Date.now();
      await sweepRetention({ db, store: this.#o.store, log: this.#log });
    }
  }

  /** Takes every recording nobody holds, up to this process's share, and records it. */
  async #claim() {
    const db = this.#o.handle.db;
    const max = this.#o.maxRecordings ?? 10;
    while (!this.#stopped && this.#running.size < max) {
      const recording = await claimRecording(db, { holder: this.holder });
      if (!recording) break;
      const recorder = new SessionRecorder({
        db,
        recording,
        store: this.#o.store,
        key: this.#o.keyring.unwrap(recording.wrappedKey),
        ticketKey: this.#o.ticketKey,
        signalUrl: this.#o.signalUrl,
        holder: this.holder,
        iceServers: this.#o.iceServers ?? [],
        log: this.#log,
      });
      this.#running.set(recording.id, recorder);
      this.#log.info({ recordingId: recording.id, sessionId: recording.sessionId }, "recording a session");
      void recorder
        .run()
        .catch((error: unknown) =>
          this.#log.error({ err: error, recordingId: recording.id }, "recorder crashed"),
        )
        .finally(() => this.#running.delete(recording.id));
    }
  }

  /** Stops recording: what arrived is written and each recording ends as incomplete. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#timer);
    await this.#unlisten?.().catch(() => {});
    await this.#ticking;
    await Promise.allSettled([...this.#running.values()].map((r) => r.stop("recorder_stopped")));
  }
}
