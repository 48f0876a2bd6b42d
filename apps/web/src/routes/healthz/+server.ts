/** Liveness and database status for load balancers and the start script. */
import { json } from "@sveltejs/kit";
import { sql } from "drizzle-orm";
import type { RequestHandler } from "./$types";
import { getApp } from "$lib/server/app.ts";

export const GET: RequestHandler = async () => {
  const { database } = getApp();
  const started = performance.now();
  try {
    await database.db.execute(sql`select 1`);
    const latencyMs = Math.round((performance.now() - started) * 10) / 10;
    return json({ status: "ok", database: { kind: database.kind, ok: true, latencyMs } });
  } catch (error) {
    return json(
      { status: "degraded", database: { kind: database.kind, ok: false, error: (error as Error).message } },
      { status: 503 },
    );
  }
};
