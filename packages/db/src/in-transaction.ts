/**
 * Work that must run in a transaction: in the caller's own when it passes one, else in a new one.
 * Drizzle makes a nested transaction a savepoint, two statements more (`savepoint`, `release`).
 * A savepoint pays only where the caller goes on after the nested work failed; for work whose
 * failure fails the caller's transaction anyway (an audit append, the opener joining the session
 * Connect makes) it was two statements on the embedded database's one thread, which every Connect
 * waits on, for nothing.
 */
import { PgTransaction } from "drizzle-orm/pg-core";
import type { Executor } from "./client.ts";

export function inTransaction<T>(executor: Executor, work: (tx: Executor) => Promise<T>): Promise<T> {
  return executor instanceof PgTransaction ? work(executor) : executor.transaction(work);
}
