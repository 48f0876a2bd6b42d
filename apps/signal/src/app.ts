/**
 * The worker's Hono app: `GET /healthz` and the WebSocket endpoint `GET /ws`. Runtime-neutral: the
 * Node and Deno entries pass in their runtime's `upgradeWebSocket` and serve `app.fetch`.
 */
import { Hono } from "hono";
import type { UpgradeWebSocket, WSContext } from "hono/ws";
import type { PeerHandle, PeerSocket, SignalHub } from "./hub.ts";

function peerSocket(ws: WSContext): PeerSocket {
  return {
    send: (text) => ws.send(text),
    close: (code, reason) => ws.close(code, reason),
    get bufferedAmount() {
      return (ws.raw as { bufferedAmount?: number } | undefined)?.bufferedAmount ?? 0;
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
        },
        onMessage: (event, _ws) => {
          const data = event.data;
          peer?.onMessage(
            typeof data === "string" ? data : data instanceof ArrayBuffer ? data : new Uint8Array(0),
          );
        },
        onClose: () => peer?.onClose(),
        onError: () => peer?.onClose(),
      };
    }),
  );
  return app;
}
