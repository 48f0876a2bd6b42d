/**
 * Single byte ranges (RFC 9110 §14): parsing a `Range: bytes=…` header against a body's length, and
 * answering with 200, 206 or 416. Several ranges in one request are answered with the whole body,
 * which the RFC allows (a server may ignore Range), rather than a multipart body nobody here needs.
 */

/** What a Range header asks of a body of known length. */
export type RangeRequest =
  /** No Range, one we ignore (another unit, bad syntax, several ranges): send it all. */
  | { kind: "full" }
  /** One satisfiable range, inclusive at both ends and within the body. */
  | { kind: "partial"; start: number; end: number }
  /** A valid range that starts past the end (or an empty suffix): 416. */
  | { kind: "unsatisfiable" };

const SPEC = /^(\d*)-(\d*)$/;

/**
 * Reads `Range` for a body of `length` bytes: `bytes=a-b`, `bytes=a-` and `bytes=-n` (the last n).
 * An end past the body is cut to it (§14.1.2); a header that is not valid is ignored (§14.2).
 */
export function parseRange(header: string | null, length: number): RangeRequest {
  if (header === null) return { kind: "full" };
  const eq = header.indexOf("=");
  if (eq < 0 || header.slice(0, eq).trim().toLowerCase() !== "bytes") return { kind: "full" };
  const specs = header.slice(eq + 1).split(",");
  if (specs.length !== 1) return { kind: "full" };
  const match = SPEC.exec(specs[0]!.trim());
  if (!match) return { kind: "full" };
  const [, first = "", last = ""] = match;
  if (first === "" && last === "") return { kind: "full" };
  if (first === "") {
    // A suffix: the last n bytes, all of them when n is longer than the body.
    const suffix = Number(last);
    if (!Number.isSafeInteger(suffix)) return { kind: "full" };
    if (suffix === 0 || length === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, length - suffix), end: length - 1 };
  }
  const start = Number(first);
  const end = last === "" ? length - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: "full" };
  if (last !== "" && end < start) return { kind: "full" };
  if (start >= length) return { kind: "unsatisfiable" };
  return { kind: "partial", start, end: Math.min(end, length - 1) };
}

/**
 * The response for `body` to a request with `rangeHeader`: 200 with all of it, 206 with the one
 * range asked for and its Content-Range, or 416 with `Content-Range: bytes *\/length`. `headers`
 * (the content type, caching) go on every answer; Accept-Ranges says ranges are welcome.
 */
export function rangeResponse(
  body: Uint8Array,
  rangeHeader: string | null,
  headers: HeadersInit = {},
): Response {
  const length = body.byteLength;
  const out = new Headers(headers);
  out.set("accept-ranges", "bytes");
  const range = parseRange(rangeHeader, length);
  if (range.kind === "unsatisfiable") {
    out.set("content-range", `bytes */${length}`);
    out.delete("content-type");
    return new Response(null, { status: 416, headers: out });
  }
  if (range.kind === "partial") {
    const part = body.subarray(range.start, range.end + 1);
    out.set("content-range", `bytes ${range.start}-${range.end}/${length}`);
    out.set("content-length", String(part.byteLength));
    return new Response(part as Uint8Array<ArrayBuffer>, { status: 206, headers: out });
  }
  out.set("content-length", String(length));
  return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: out });
}
