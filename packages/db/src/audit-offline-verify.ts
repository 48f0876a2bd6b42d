/**
 * Verifies an audit export (audit-export.ts, format `rd-audit-export` v1) with nothing but its
 * lines: no database, no network. Every event's hash is recomputed exactly as the chain computes it
 * (audit.ts `eventHash`), every link must continue the one before, every signed head must match
 * the chain where it stands and carry a genuine Ed25519 signature by a key of the header, and no
 * event may come after the last signed head. The first bad line is reported by number.
 *
 * The header's keys are the file's own claim: compare the fingerprint the result names with the one
 * the dashboard shows (or pass `trustedKeyIds`) to know the heads were signed by your server.
 */
import type { KeyObject } from "node:crypto";
import { z } from "zod";
import { eventHash } from "./audit.ts";
import { EXPORT_FORMAT } from "./audit-export.ts";
import { publicKeyOf, verifyHeadSignature } from "./audit-signing.ts";
import { actorType } from "./schema.ts";

export type ExportProblem =
  | "bad_json"
  | "bad_header"
  | "bad_key"
  | "bad_line"
  | "wrong_tenant"
  | "seq_gap"
  | "broken_link"
  | "hash_mismatch"
  | "head_mismatch"
  | "unknown_key"
  | "bad_signature"
  | "unsigned"
  | "empty";

export type ExportVerification =
  | {
      ok: true;
      tenantId: string;
      scope: unknown;
      /** Events shown in full. */
      events: number;
      /** Events present only as links (outside the scope). */
      links: number;
      heads: number;
      /** The fingerprints of the keys that signed the heads, in order of first use. */
      keyIds: string[];
      /** Seq of the last signed head; null when the export holds no events. */
      lastSignedSeq: number | null;
    }
  | { ok: false; line: number; reason: ExportProblem; message: string };

const hash = z.string().regex(/^[0-9a-f]{64}$/, { error: "must be 64 lowercase hex digits" });
const seq = z.number().int().positive();

const headerLine = z.object({
  kind: z.literal("header"),
  format: z.literal(EXPORT_FORMAT),
  v: z.literal(1),
  tenantId: z.string().min(1),
  scope: z.unknown(),
  exportedAt: z.string(),
  publicKeys: z.array(z.object({ id: hash, publicKey: z.string() })),
});

// Strict: a field the hash does not cover must not ride along looking like part of the record.
const chainLine = z.discriminatedUnion("kind", [
  z.strictObject({
    kind: z.literal("event"),
    id: z.string(),
    tenantId: z.string(),
    seq,
    type: z.string(),
    sessionId: z.string().nullable(),
    agentId: z.string().nullable(),
    actorType: z.enum(actorType.enumValues),
    actorId: z.string().nullable(),
    data: z.record(z.string(), z.unknown()),
    createdAt: z.string(),
    prevHash: hash,
    hash,
  }),
  z.strictObject({ kind: z.literal("link"), seq, prevHash: hash, hash }),
  z.strictObject({
    kind: z.literal("head"),
    seq,
    hash,
    keyId: z.string(),
    signature: z.string(),
    signedAt: z.string(),
  }),
]);

const issues = (error: z.ZodError) =>
  error.issues.map((i) => (i.path.length ? `${i.path.join(".")}: ${i.message}` : i.message)).join("; ");

/** An ISO timestamp as a Date, only if it is exactly the form the export writes. */
function isoDate(text: string): Date | null {
  const date = new Date(text);
  return Number.isNaN(date.getTime()) || date.toISOString() !== text ? null : date;
}

/**
 * Verifies an export, line by line (each without its newline; a trailing `\r` is ignored).
 * `trustedKeyIds`: when given, heads must be signed by one of these fingerprints.
 */
export async function verifyExport(
  lines: AsyncIterable<string> | Iterable<string>,
  { trustedKeyIds }: { trustedKeyIds?: readonly string[] } = {},
): Promise<ExportVerification> {
  let lineNo = 0;
  let blankAt: number | null = null;
  let header: z.infer<typeof headerLine> | null = null;
  const keys = new Map<string, KeyObject>();
  const usedKeys: string[] = [];
  let prev: { seq: number; hash: string; kind: "event" | "link" | "head" } | null = null;
  let events = 0;
  let links = 0;
  let heads = 0;
  let lastSignedSeq: number | null = null;
  /** The first event or link after the last head: where an unsigned tail starts. */
  let unsignedFrom: { line: number; seq: number } | null = null;

  const fail = (reason: ExportProblem, message: string, line = lineNo): ExportVerification => ({
    ok: false,
    line,
    reason,
    message,
  });

  for await (const raw of lines) {
    lineNo += 1;
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    // Blank lines are allowed only at the end of the file.
    if (text.trim() === "") {
      blankAt ??= lineNo;
      continue;
    }
    if (blankAt !== null) return fail("bad_json", `line ${blankAt} is blank`, blankAt);
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return fail("bad_json", `line ${lineNo} is not valid JSON`);
    }

    if (header === null) {
      const parsed = headerLine.safeParse(value);
      if (!parsed.success) {
        return fail("bad_header", `line 1 is not an ${EXPORT_FORMAT} v1 header (${issues(parsed.error)})`);
      }
      header = parsed.data;
      for (const { id, publicKey } of header.publicKeys) {
        const key = publicKeyOf(id, publicKey);
        if (!key)
          return fail(
            "bad_key",
            `public key ${id} in the header is not the Ed25519 key with that fingerprint`,
          );
        if (!trustedKeyIds || trustedKeyIds.includes(id)) keys.set(id, key);
      }
      continue;
    }

    const parsed = chainLine.safeParse(value);
    if (!parsed.success) {
      return fail("bad_line", `line ${lineNo} is not an event, link or head line (${issues(parsed.error)})`);
    }
    const item = parsed.data;

    if (item.kind === "head") {
      if (!prev || prev.kind === "head" || prev.seq !== item.seq || prev.hash !== item.hash) {
        return fail(
          "head_mismatch",
          prev && prev.kind !== "head"
            ? `the head signed for #${item.seq} does not match the chain at #${prev.seq}: it was rewritten`
            : `the head signed for #${item.seq} follows no event it could sign`,
        );
      }
      const key = keys.get(item.keyId);
      if (!key) {
        return fail(
          "unknown_key",
          `the head for #${item.seq} names key ${item.keyId}, which is not ${
            header.publicKeys.some((k) => k.id === item.keyId) ? "a trusted key" : "a key of the header"
          }`,
        );
      }
      const signedAt = isoDate(item.signedAt);
      if (
        !signedAt ||
        !(await verifyHeadSignature(
          key,
          { tenantId: header.tenantId, seq: item.seq, hash: item.hash, signedAt },
          item.signature,
        ))
      ) {
        return fail("bad_signature", `the signature of the head for #${item.seq} is not genuine`);
      }
      if (!usedKeys.includes(item.keyId)) usedKeys.push(item.keyId);
      heads += 1;
      lastSignedSeq = item.seq;
      unsignedFrom = null;
      prev = { seq: item.seq, hash: item.hash, kind: "head" };
      continue;
    }

    if (prev && item.seq !== prev.seq + 1) {
      return fail("seq_gap", `expected #${prev.seq + 1} but found #${item.seq}: events are missing`);
    }
    if (prev && item.prevHash !== prev.hash) {
      return fail("broken_link", `#${item.seq} does not link to #${prev.seq} before it`);
    }
    if (item.kind === "event") {
      if (item.tenantId !== header.tenantId) {
        return fail("wrong_tenant", `event #${item.seq} belongs to another tenant than the header's`);
      }
      const createdAt = isoDate(item.createdAt);
      if (!createdAt || eventHash(item.prevHash, { ...item, createdAt }) !== item.hash) {
        return fail("hash_mismatch", `event #${item.seq} was altered: its content does not match its hash`);
      }
      events += 1;
    } else {
      links += 1;
    }
    unsignedFrom ??= { line: lineNo, seq: item.seq };
    prev = { seq: item.seq, hash: item.hash, kind: item.kind };
  }

  if (header === null) return fail("empty", "the file is empty: no header", 1);
  if (unsignedFrom && prev) {
    const range = unsignedFrom.seq === prev.seq ? `#${prev.seq}` : `#${unsignedFrom.seq}..#${prev.seq}`;
    return fail(
      "unsigned",
      `${range} come${unsignedFrom.seq === prev.seq ? "s" : ""} after the last signed head: no signature ` +
        "binds them (export again once the head signer has signed them)",
      unsignedFrom.line,
    );
  }
  return {
    ok: true,
    tenantId: header.tenantId,
    scope: header.scope,
    events,
    links,
    heads,
    keyIds: usedKeys,
    lastSignedSeq,
  };
}
