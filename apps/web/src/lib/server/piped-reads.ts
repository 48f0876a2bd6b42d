/**
 * A failed read of a file being sent must fail that one response, not the process.
 *
 * The static file server inside the build (sirv) answers with `createReadStream(file).pipe(res)`
 * and listens for no error on the read stream, so a read that fails after the headers (the file
 * gone since start-up, too many open files under load, an I/O error) threw from the stream's
 * `error` event and ended the whole process: dashboard, signaling worker, demo agent, every live
 * session. A stream piped into a response announces itself on the response (`pipe`), which is where
 * this takes it: the read's error is logged and the response cut short, so the browser sees one
 * failed request (and retries the asset on its next load).
 */
import type { ServerResponse } from "node:http";
import type { Readable } from "node:stream";

interface Logger {
  warn(details: object, message: string): void;
}

/** Gives every stream piped into `res` an error handler that ends `res` instead of the process. */
export function guardPipedReads(res: ServerResponse, log: Logger, url = ""): void {
  res.on("pipe", (source: Readable) => {
    source.on("error", (error: NodeJS.ErrnoException) => {
      // The path only: a query string is no business of a log.
      log.warn(
        { err: error, path: url.split("?")[0] },
        "could not read a file being sent; that request failed",
      );
      if (!res.headersSent) {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "1" });
        res.end("Could not read this file. Try again.\n");
        return;
      }
      // Headers (a length, a type) are out: the only honest end is to cut the response short.
      res.destroy();
    });
  });
}
