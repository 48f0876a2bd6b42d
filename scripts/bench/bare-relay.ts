/**
 * The baseline for `bench:signal`: the least a WebSocket relay can do. Pairs two sockets by
 * `?pair=N` and forwards text frames between them, with no parsing, auth or routing.
 */
import { WebSocketServer, type WebSocket } from "ws";

const port = Number(process.env.PORT ?? 8799);
const pairs = new Map<string, WebSocket[]>();
const wss = new WebSocketServer({ port, host: "127.0.0.1" });
wss.on("connection", (ws, req) => {
  const pair = new URL(req.url ?? "/", "http://x").searchParams.get("pair") ?? "";
  const peers = pairs.get(pair) ?? [];
  peers.push(ws);
  pairs.set(pair, peers);
  ws.on("message", (data, isBinary) => {
    for (const peer of peers) if (peer !== ws) peer.send(data, { binary: isBinary });
  });
  ws.on("close", () => pairs.delete(pair));
});
wss.on("listening", () => console.log(`bare relay on ${port}`));
