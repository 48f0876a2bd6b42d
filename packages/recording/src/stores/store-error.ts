/** The errors a RecordingStore rejects with: expected failures, typed by what the caller can do. */
import type { RecordingStoreErrorCode } from "../contracts.ts";

/**
 * A store refused an operation. `not_found`: no object under that key. `full`: the disk or
 * bucket quota is exhausted (the recorder stops recording and says so). `unavailable`: anything
 * else — down, unreachable, misconfigured, refused credentials; `cause` holds the original error
 * for the log.
 */
export class RecordingStoreError extends Error {
  readonly code: RecordingStoreErrorCode;

  constructor(code: RecordingStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "RecordingStoreError";
    this.code = code;
  }
}

/** A key or prefix that is not a relative path of plain names: a bug in the caller, never retried. */
export class InvalidStoreKey extends Error {
  constructor(key: string, reason: string) {
    super(`Invalid recording store key ${JSON.stringify(key)}: ${reason}.`);
    this.name = "InvalidStoreKey";
  }
}
