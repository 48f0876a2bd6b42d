/**
 * The worker's Hono app: `GET /healthz` and the WebSocket endpoint `GET /ws`. Runtime-neutral: the
 * Node and Deno entries pass in their runtime's `upgradeWebSocket` and client-address lookup, and
 * serve `app.fetch`. `/healthz` tells anyone only that the worker is alive; its connection counts
 * go to monitoring that presents SIGNAL_METRICS_TOKEN, never to strangers.
 */
import { constantTimeEqual, sha256Hex } from "@rd/auth/secrets";
import { type Context, Hono } from "hono";
import type { UpgradeWebSocket, WSContext } from "hono/ws";
import type { PeerHandle, PeerSocket, SignalHub } from "./hub.ts";

export interface SignalAppOptions {
  /** The client's address of a request (the runtime adapter's `getConnInfo`). */
  clientAddress(c: Context): string | undefined;
  /** SIGNAL_METRICS_TOKEN: a caller presenting it as a Bearer token also gets the counts. */
  metricsToken?: string | undefined;
}

interface NodeWsRaw {
  bufferedAmount?: number;
  /** Node's `ws` exposes its TCP socket; other runtimes do not. */
  _socket?: { cork(): void; uncork(): void };
  /** Node's `ws` hands frames over as Buffers, whose toString() decodes UTF-8. */
  on?(event: "message", listener: (data: Uint8Array, isBinary: boolean) => void): void;
}

function peerSocket(ws: WSContext): PeerSocket {
  const raw = ws.raw as NodeWsRaw | undefined;
  const tcp = raw?._socket;
  let corked = false;
  return {
    send: (text) => {
      // On Node, frames sent to one peer within an event-loop turn leave in one write instead of
      // one syscall each: the relay's main cost under load. (Feature-detected: Node's ws only.)
      if (tcp && !corked) {
        corked = true;
        tcp.cork();
        setImmediate(() => {
          corked = false;
          tcp.uncork();
        });
      }
      ws.send(text);
    },
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return raw?.bufferedAmount ?? 0;
    },
  };
}

/** Whether the request's `Authorization: Bearer …` is `token`; compared in constant time. */
function presents(c: Context, token: string): boolean {
  const match = /^Bearer (\S+)$/.exec(c.req.header("authorization") ?? "");
  // Hashes first: equal lengths, so the comparison says nothing about the token's length either.
  return !!match && constantTimeEqual(sha256Hex(match[1]!), sha256Hex(token));
}

export function createSignalApp(
  hub: SignalHub,
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  upgradeWebSocket: UpgradeWebSocket<any>,
  runtime: string,
  options: SignalAppOptions,
) {
  const app = new Hono();
  app.get("/healthz", (c) => {
    if (options.metricsToken && presents(c, options.metricsToken)) {
      return c.json({ status: "ok", runtime, ...hub.stats });
    }
    return c.json({ status: "ok" });
  });
  app.get(
    "/ws",
    upgradeWebSocket((c: Context) => {
      const ip = options.clientAddress(c) ?? "unknown";
      let peer: PeerHandle | undefined;
      return {
        onOpen: (_event, ws) => {
          peer = hub.connect(peerSocket(ws), ip);
          // On Node, read frames straight from `ws`: the adapter's own path copies each frame and
          // wraps it in a MessageEvent, which costs more than relaying it. (Hono registers no
          // listener of its own when onMessage is absent.)
          const raw = ws.raw as NodeWsRaw | undefined;
          if (runtime === "node" && raw?.on) {
            const handle = peer;
            raw.on("message", (data, isBinary) => handle.onMessage(isBinary ? data : data.toString()));
          }
        },
        ...(runtime === "node"
          ? {}
          : {
              onMessage: (event: MessageEvent) => {
                const data: unknown = event.data;
                peer?.onMessage(
                  typeof data === "string" ? data : data instanceof ArrayBuffer ? data : new Uint8Array(0),
                );
              },
            }),
        onClose: () => peer?.onClose(),
        onError: () => peer?.onClose(),
      };
    }),
  );
  return app;
}
