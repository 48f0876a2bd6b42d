/**
 * The worker's Hono app: `GET /healthz` and the WebSocket endpoint `GET /ws`. Runtime-neutral: the
 * Node and Deno entries pass in their runtime's `upgradeWebSocket` and serve `app.fetch`.
 */
import { Hono } from "hono";
import type { UpgradeWebSocket, WSContext } from "hono/ws";
import type { PeerHandle, PeerSocket, SignalHub } from "./hub.ts";

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

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function createSignalApp(hub: SignalHub, upgradeWebSocket: UpgradeWebSocket<any>, runtime: string) {
  const app = new Hono();
  app.get("/healthz", (c) => c.json({ status: "ok", runtime, ...hub.stats }));
  app.get(
    "/ws",
    upgradeWebSocket(() => {
      let peer: PeerHandle | undefined;
      return {
        onOpen: (_event, ws) => {
          peer = hub.connect(peerSocket(ws));
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
